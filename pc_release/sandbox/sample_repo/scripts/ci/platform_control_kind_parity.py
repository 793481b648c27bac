#!/usr/bin/env python3
"""Local preflight: kind parity. The kind overlay must mirror the platform-control overlay — same
Deployments, containers, env var names, ConfigMaps and keys, and Secret references — except for the
differences declared in .pc-release.yaml (preflight.kind_parity.allow)."""

from __future__ import annotations

import sys

import yaml
from platform_control_ci import RELEASE_CONFIG, ROOT, fail, overlay_documents


def facts(overlay: str) -> dict[tuple[str, str], str]:
    """(kind, name) -> where it was seen, for every compared item of the overlay."""
    found: dict[tuple[str, str], str] = {}
    for file, documents in overlay_documents(ROOT / overlay).items():
        for doc in documents:
            name = doc["metadata"]["name"]
            if doc["kind"] == "ConfigMap":
                found[("configmap", name)] = file
                found.update({("configmap-key", f"{name}/{key}"): file for key in doc.get("data", {})})
            if doc["kind"] != "Deployment":
                continue
            found[("deployment", name)] = file
            spec = doc["spec"]["template"]["spec"]
            found.update({("secret", s["name"]): f"{file} imagePullSecrets" for s in spec.get("imagePullSecrets", [])})
            for container in spec["containers"]:
                where = f"{file} {name}/{container['name']}"
                found[("container", f"{name}/{container['name']}")] = file
                for env in container.get("env", []):
                    found[("env", env["name"])] = where
                    secret = env.get("valueFrom", {}).get("secretKeyRef")
                    if secret:
                        found[("secret", secret["name"])] = where
    return found


def main() -> int:
    settings = (yaml.safe_load(RELEASE_CONFIG.read_text()) or {}).get("preflight", {}).get("kind_parity", {})
    kind_overlay = settings.get("kind_overlay", "deploy/overlays/kind")
    platform_overlay = settings.get("platform_overlay", "deploy/overlays/platform-control")
    allow = set(settings.get("allow", []))
    kind, platform = facts(kind_overlay), facts(platform_overlay)
    differences = {key: f"only in {kind_overlay} ({kind[key]})" for key in kind.keys() - platform.keys()}
    differences |= {key: f"only in {platform_overlay} ({platform[key]})" for key in platform.keys() - kind.keys()}
    blocking = []
    for (item_kind, name), where in sorted(differences.items()):
        allowed = f"{item_kind}:{name}" in allow
        print(f"kind-parity: {'allowed ' if allowed else 'DRIFT   '} {item_kind}:{name} {where}")
        if not allowed:
            blocking.append(f"{item_kind}:{name}")
    for stale in sorted(allow - {f"{k}:{n}" for k, n in differences}):
        print(f"kind-parity: note: allow-list entry {stale} matches no difference any more")
    if blocking:
        fail(f"kind overlay drifted from platform-control: {', '.join(blocking)} (fix the overlay or declare it)")
    print(f"kind-parity: {kind_overlay} mirrors {platform_overlay} ({len(differences)} declared differences)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
