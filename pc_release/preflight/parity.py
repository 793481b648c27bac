"""kind parity: the kind overlay (and the live kind cluster) must mirror the platform-control overlay.

Compared items, named the way `.pc-release.yaml`'s `preflight.kind_parity.allow` names them:
`deployment:NAME` (any workload kind), `container:WORKLOAD/CONTAINER`, `env:NAME` (or
`env:WORKLOAD/CONTAINER/NAME` to allow it in one container only), `configmap:NAME`,
`configmap-key:CONFIGMAP/KEY` and `secret:NAME` (declared as a Secret or an ExternalSecret's target, or
referenced by a workload). Values are never compared: only what exists.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import yaml

from pc_release.errors import PcReleaseError
from pc_release.models import KubeConfigMap, KubeDeployment, KubeSecret
from pc_release.preflight.models import ParityDifference, ParityResult, ParitySide
from pc_release.resources.kubernetes import WORKLOAD_KINDS, configmap_record, deployment_record

# (kind, owner, name): owner is WORKLOAD/CONTAINER for env vars, None otherwise.
FactKey = tuple[str, str | None, str]
Facts = dict[FactKey, str]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# Objects every cluster has in every namespace; they say nothing about the platform's own configuration.
SYSTEM_CONFIGMAPS = frozenset({"kube-root-ca.crt"})
SYSTEM_SECRET_TYPES = frozenset({"kubernetes.io/service-account-token", "helm.sh/release.v1"})


class OverlayError(PcReleaseError):
    """An overlay cannot be read: missing kustomization, a resource outside the repository, invalid YAML."""

    rule = "kind-parity"


@dataclass(frozen=True)
class Overlay:
    directory: str
    namespace: str | None
    documents: list[tuple[str, dict]]


def load_overlay(read: Callable[[str], str | None], directory: str) -> Overlay:
    """An overlay's documents, following its kustomization's `resources` (files and in-repo bases).

    `read(path)` returns a repository file's text at the promoted SHA, or None when it does not exist.
    """
    return _load(read, posixpath.normpath(directory), seen=set())


def _load(read: Callable[[str], str | None], directory: str, seen: set[str]) -> Overlay:
    if directory in seen:
        raise OverlayError(f"{directory}: kustomization resources form a cycle")
    seen.add(directory)
    for name in KUSTOMIZATION_FILES:
        text = read(f"{directory}/{name}")
        if text is not None:
            break
    else:
        raise OverlayError(f"{directory}: no kustomization.yaml (is the overlay missing at this commit?)")
    kustomization = _yaml_documents(f"{directory}/{name}", text)
    spec = kustomization[0] if kustomization else {}
    documents: list[tuple[str, dict]] = []
    namespace = spec.get("namespace")
    for entry in spec.get("resources") or []:
        if "://" in entry or entry.startswith(("github.com/", "git@")):
            continue  # remote bases cannot be read at the promoted SHA; only the repository's own files count
        path = posixpath.normpath(posixpath.join(directory, entry))
        if path.startswith("../") or path == "..":
            raise OverlayError(f"{directory}: resource {entry!r} lies outside the repository")
        if path.endswith((".yaml", ".yml", ".json")):
            text = read(path)
            if text is None:
                raise OverlayError(f"{directory}: resource {entry!r} does not exist")
            documents += [(path, doc) for doc in _yaml_documents(path, text)]
        else:
            base = _load(read, path, seen)
            documents += base.documents
            namespace = namespace or base.namespace
    return Overlay(directory=directory, namespace=namespace, documents=documents)


def _yaml_documents(path: str, text: str) -> list[dict]:
    try:
        return [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]
    except yaml.YAMLError as err:
        raise OverlayError(f"{path}: invalid YAML: {err}") from err


def overlay_facts(overlay: Overlay) -> Facts:
    """Everything the overlay declares or references, with the file it comes from."""
    deployments, configmaps, secrets = [], [], []
    for path, doc in overlay.documents:
        kind = doc.get("kind")
        name = (doc.get("metadata") or {}).get("name", "")
        if kind in WORKLOAD_KINDS:
            deployments.append((path, deployment_record(doc)))
        elif kind == "ConfigMap":
            configmaps.append((path, configmap_record(doc)))
        elif kind == "Secret":
            secrets.append((path, name))
        elif kind == "ExternalSecret":
            target = ((doc.get("spec") or {}).get("target") or {}).get("name") or name
            secrets.append((path, target))
    return _facts(deployments, configmaps, secrets)


def live_facts(
    deployments: Iterable[KubeDeployment], configmaps: Iterable[KubeConfigMap], secrets: Iterable[KubeSecret]
) -> Facts:
    """The same facts for what a live cluster runs, minus the objects Kubernetes itself puts in a namespace."""
    return _facts(
        [("live", d) for d in deployments],
        [("live", c) for c in configmaps if c.name not in SYSTEM_CONFIGMAPS],
        [("live", s.name) for s in secrets if s.type not in SYSTEM_SECRET_TYPES],
    )


def _facts(
    deployments: list[tuple[str, KubeDeployment]],
    configmaps: list[tuple[str, KubeConfigMap]],
    secrets: list[tuple[str, str]],
) -> Facts:
    facts: Facts = {}
    for source, workload in deployments:
        facts[("deployment", None, workload.name)] = source
        for secret in workload.secret_refs:
            facts.setdefault(("secret", None, secret), f"{source} ({workload.name})")
        for container in workload.containers:
            owner = f"{workload.name}/{container.name}"
            facts[("container", None, owner)] = source
            for env in container.env_names:
                facts[("env", owner, env)] = source
    for source, configmap in configmaps:
        facts[("configmap", None, configmap.name)] = source
        for key in configmap.keys:
            facts[("configmap-key", None, f"{configmap.name}/{key}")] = source
    for source, secret in secrets:
        facts[("secret", None, secret)] = source
    return facts


def _allow_entries(kind: str, owner: str | None, name: str) -> list[str]:
    entries = [f"{kind}:{name}"]
    if owner:
        entries.append(f"{kind}:{owner}/{name}")
    return entries


def compare(left: tuple[ParitySide, Facts], right: tuple[ParitySide, Facts], allow: Iterable[str]) -> ParityResult:
    """What each side has that the other lacks; differences named in `allow` are kept but marked allowed."""
    (left_side, left_facts), (right_side, right_facts) = left, right
    allow = list(allow)
    differences = []
    used: set[str] = set()
    for facts, other, present, missing in (
        (left_facts, right_facts, left_side, right_side),
        (right_facts, left_facts, right_side, left_side),
    ):
        for key in sorted(facts.keys() - other.keys(), key=lambda k: (k[0], k[1] or "", k[2])):
            kind, owner, name = key
            matched = [entry for entry in _allow_entries(kind, owner, name) if entry in allow]
            used.update(matched)
            differences.append(
                ParityDifference(
                    kind=kind,
                    name=name,
                    owner=owner,
                    present_in=present,
                    missing_from=missing,
                    source=facts[key],
                    allowed=bool(matched),
                )
            )
    compared: dict[str, int] = {}
    for kind, _, _ in left_facts.keys() | right_facts.keys():
        compared[kind] = compared.get(kind, 0) + 1
    return ParityResult(
        left=left_side,
        right=right_side,
        differences=differences,
        stale_allow=[entry for entry in allow if entry not in used],
        compared=dict(sorted(compared.items())),
    )
