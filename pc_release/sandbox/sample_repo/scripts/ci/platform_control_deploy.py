#!/usr/bin/env python3
"""Deploy jobs against the environment directory (PC_SANDBOX_ENVIRONMENT_DIR, standing for the cluster):

  manifests  render the platform-control overlay with every runtime image pinned to its fan-in digest,
             annotated with the source SHA and digest (deploy-manifests)
  rollout    wait for each rendered Deployment to be available on its pinned image (rollout)
  secrets    reconcile every Secret the Deployments reference from its ExternalSecret
             (controller-secret-reconcile)

Under PLATFORM_CONTROL_RELEASE_PROFILE=web-fast only the web runtimes are rendered and rolled out; the
other runtimes stay as the previous release deployed them.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

import yaml
from platform_control_ci import (
    IMAGE_REPOSITORY,
    PLATFORM_OVERLAY,
    commit_sha,
    deployments,
    digest_variable,
    environment_dir,
    fail,
    load_documents,
    overlay_documents,
    read_json,
    release_profile,
    runtimes,
    write_json,
)

ANNOTATION_SHA = "platform-control.io/source-sha"
ANNOTATION_DIGEST = "platform-control.io/runtime-digest"


def pin(documents: list[dict], runtime: str, digest: str, sha: str) -> None:
    for deployment in deployments(documents):
        annotations = {ANNOTATION_SHA: sha, ANNOTATION_DIGEST: digest}
        deployment["metadata"].setdefault("annotations", {}).update(annotations)
        deployment["spec"]["template"]["metadata"].setdefault("annotations", {}).update(annotations)
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            container["image"] = f"{IMAGE_REPOSITORY}/{runtime}@{digest}"


def render_manifests() -> None:
    sha, profile, env_dir = commit_sha(), release_profile(), environment_dir()
    manifests = env_dir / "manifests"
    manifests.mkdir(parents=True, exist_ok=True)
    resources = overlay_documents(PLATFORM_OVERLAY)
    deployed = runtimes(profile)
    images = read_json(env_dir / "images.json", {})
    for runtime in deployed:
        digest = os.environ.get(digest_variable(runtime))
        if not digest:
            fail(f"{digest_variable(runtime)} is not set: deploy-manifests needs the fan-in's runtime-digests.env")
        documents = resources[f"{runtime}.yaml"]
        pin(documents, runtime, digest, sha)
        (manifests / f"{runtime}.yaml").write_text(yaml.safe_dump_all(documents, sort_keys=False))
        images[runtime] = {"image": f"{IMAGE_REPOSITORY}/{runtime}@{digest}", "digest": digest, "source_sha": sha}
        print(f"deploy-manifests: {runtime} -> {images[runtime]['image']} ({ANNOTATION_SHA}={sha[:12]})")
    if profile != "web-fast":
        for name, documents in resources.items():
            if name.removesuffix(".yaml") not in deployed:
                (manifests / name).write_text(yaml.safe_dump_all(documents, sort_keys=False))
                print(f"deploy-manifests: applied {name}")
    write_json(env_dir / "images.json", images)
    write_json(env_dir / "release.json", {"source_sha": sha, "profile": profile, "runtimes": deployed})
    print(f"deploy-manifests: recorded image annotations in {env_dir / 'images.json'}")


def rollout() -> None:
    env_dir = environment_dir()
    images = read_json(env_dir / "images.json", {})
    status = read_json(env_dir / "rollout.json", {})
    for runtime in runtimes():
        path = env_dir / "manifests" / f"{runtime}.yaml"
        if not path.exists():
            fail(f"{runtime}: no rendered manifest at {path}; deploy-manifests must run first")
        for deployment in deployments(load_documents(path)):
            name, replicas = deployment["metadata"]["name"], deployment["spec"].get("replicas", 1)
            image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
            if "@sha256:" not in image or image != images.get(runtime, {}).get("image"):
                fail(f"deployment {name}: image {image} is not the recorded digest-pinned image")
            status[name] = {"image": image, "ready_replicas": replicas, "replicas": replicas}
            at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            status[name]["available_at"] = at
            print(f'rollout: deployment "{name}" successfully rolled out ({replicas}/{replicas} ready, {image})')
    write_json(env_dir / "rollout.json", status)


def secret_references(deployment: dict) -> set[str]:
    spec = deployment["spec"]["template"]["spec"]
    names = {s["name"] for s in spec.get("imagePullSecrets", [])}
    names |= {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
    for container in spec["containers"]:
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                names.add(ref["name"])
        names |= {source["secretRef"]["name"] for source in container.get("envFrom", []) if "secretRef" in source}
    return names


def reconcile_secrets() -> None:
    env_dir = environment_dir()
    manifests = env_dir / "manifests"
    declared, referenced = {}, {}
    for path in sorted(manifests.glob("*.yaml")):
        for doc in load_documents(path):
            if doc.get("kind") == "ExternalSecret":
                declared[doc["spec"]["target"]["name"]] = doc["spec"]["secretStoreRef"]["name"]
            if doc.get("kind") == "Deployment":
                for name in secret_references(doc):
                    referenced.setdefault(name, []).append(doc["metadata"]["name"])
    missing = sorted(set(referenced) - set(declared))
    if missing:
        fail(
            "secrets referenced but not declared as ExternalSecret: "
            + ", ".join(f"{name} (used by {', '.join(referenced[name])})" for name in missing)
        )
    reconciled = {name: {"store": declared[name], "used_by": sorted(users)} for name, users in referenced.items()}
    for name, entry in sorted(reconciled.items()):
        print(f"controller-secret-reconcile: {name} synced from {entry['store']} for {', '.join(entry['used_by'])}")
    write_json(env_dir / "secrets.json", reconciled)


def main() -> int:
    commands = {"manifests": render_manifests, "rollout": rollout, "secrets": reconcile_secrets}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        fail(f"usage: platform_control_deploy.py {'|'.join(commands)}")
    commands[sys.argv[1]]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
