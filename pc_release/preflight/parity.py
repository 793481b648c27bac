"""kind parity: the kind overlay (and the live kind cluster) must mirror the platform-control overlay.

Overlays are compared as kustomize renders them (`kubectl kustomize`, so patches, generators and components
count); without kubectl, only overlays made of plain resources are read, by a built-in reader.

Compared items, named the way `.pc-release.yaml`'s `preflight.kind_parity.allow` names them:
`deployment:NAME` (any workload kind), `container:WORKLOAD/CONTAINER`, `env:NAME` (or
`env:WORKLOAD/CONTAINER/NAME` to allow it in one container only), `configmap:NAME`,
`configmap-key:CONFIGMAP/KEY` and `secret:NAME` (declared as a Secret or an ExternalSecret's target, or
referenced by a workload). Values are never compared: only what exists.
"""

from __future__ import annotations

import posixpath
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pc_release.errors import PcReleaseError
from pc_release.models import KubeConfigMap, KubeDeployment, KubeSecret
from pc_release.preflight.models import ParityDifference, ParityResult, ParitySide
from pc_release.resources.commands import child_environment
from pc_release.resources.kubernetes import WORKLOAD_KINDS, configmap_record, deployment_record

# (kind, owner, name): owner is WORKLOAD/CONTAINER for env vars, None otherwise.
FactKey = tuple[str, str | None, str]
Facts = dict[FactKey, str]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# Objects every cluster has in every namespace; they say nothing about the platform's own configuration.
SYSTEM_CONFIGMAPS = frozenset({"kube-root-ca.crt"})
SYSTEM_SECRET_TYPES = frozenset({"kubernetes.io/service-account-token", "helm.sh/release.v1"})


class OverlayError(PcReleaseError):
    """An overlay cannot be read: missing kustomization, a resource outside the repository, invalid YAML, or
    `kubectl kustomize` refusing it."""

    rule = "kind-parity"


class RendererMissing(OverlayError):
    """The overlay needs kustomize (patches, generators, components, ...) and `kubectl` is not installed here."""

    rule = "kind-parity-renderer"


@dataclass(frozen=True)
class Overlay:
    directory: str
    namespace: str | None
    documents: list[tuple[str, dict]]


# The kustomization fields the built-in reader renders itself: plain resources (files and in-repo bases) and the
# namespace. An overlay using any other field is rendered by `kubectl kustomize` or not at all.
BUILT_IN_FIELDS = frozenset({"apiVersion", "kind", "metadata", "resources", "namespace"})
_KUBECTL_TIMEOUT_SECONDS = 120
_ORIGIN = "config.kubernetes.io/origin"
_GENERATORS = frozenset({"ConfigMapGenerator", "SecretGenerator"})
# kustomize's name-suffix hash: ten characters of its own alphabet (hasher.go encodes hex without vowels).
_NAME_HASH = re.compile(r"-[245-9bcdfghkmt]{10}$")


@dataclass
class _Walk:
    """Every file an overlay's kustomizations reach, and what in them the built-in reader cannot render."""

    files: dict[str, str] = field(default_factory=dict)
    beyond_built_in: dict[str, list[str]] = field(default_factory=dict)
    documents: list[tuple[str, dict]] = field(default_factory=list)


def load_overlay(read: Callable[[str], str | None], directory: str) -> Overlay:
    """An overlay's objects as kustomize builds them.

    `read(path)` returns a repository file's text at the promoted SHA, or None when it does not exist. The files
    the overlay's kustomizations reach are laid out in a scratch directory and rendered by `kubectl kustomize`
    (the kubectl on PATH), so patches, generators and components count as they do on deploy.
    Without kubectl the built-in reader renders overlays made of plain resources only; any other kustomization
    field is named in a RendererMissing error, never ignored.
    """
    directory = posixpath.normpath(directory)
    walk = _Walk()
    namespace = _walk(read, directory, walk, seen=set())
    kubectl = shutil.which("kubectl")
    if kubectl:
        return Overlay(directory=directory, namespace=namespace, documents=_render(kubectl, directory, walk))
    if walk.beyond_built_in:
        used = "; ".join(f"{path} uses {', '.join(fields)}" for path, fields in walk.beyond_built_in.items())
        raise RendererMissing(
            f"{directory} cannot be rendered here: {used}, and kubectl (kubectl kustomize) is not on PATH; the "
            f"built-in reader renders only {', '.join(sorted(BUILT_IN_FIELDS - {'apiVersion', 'kind', 'metadata'}))}"
        )
    return Overlay(directory=directory, namespace=namespace, documents=walk.documents)


def _inside(directory: str, entry: str, what: str) -> str:
    path = posixpath.normpath(posixpath.join(directory, entry))
    if path.startswith("../") or path == ".." or posixpath.isabs(entry):
        raise OverlayError(f"{directory}: {what} {entry!r} lies outside the repository")
    return path


def _file(read: Callable[[str], str | None], walk: _Walk, directory: str, entry: str, what: str) -> str:
    path = _inside(directory, entry, what)
    text = read(path)
    if text is None:
        raise OverlayError(f"{directory}: {what} {entry!r} does not exist")
    walk.files[path] = text
    return text


def _is_remote(entry: str) -> bool:
    return "://" in entry or entry.startswith(("github.com/", "git@", "git::"))


def _walk(read: Callable[[str], str | None], directory: str, walk: _Walk, seen: set[str]) -> str | None:
    """Follow one kustomization and everything it reaches; returns the namespace it (or its first base) sets."""
    if directory in seen:
        raise OverlayError(f"{directory}: kustomization resources form a cycle")
    seen.add(directory)
    for name in KUSTOMIZATION_FILES:
        text = read(f"{directory}/{name}")
        if text is not None:
            break
    else:
        raise OverlayError(f"{directory}: no kustomization.yaml (is the overlay missing at this commit?)")
    path = f"{directory}/{name}"
    walk.files[path] = text
    kustomization = _yaml_documents(path, text)
    spec = kustomization[0] if kustomization else {}
    beyond = sorted(set(spec) - BUILT_IN_FIELDS)
    namespace = spec.get("namespace")
    for field_name in ("resources", "bases", "components"):
        for entry in spec.get(field_name) or []:
            if _is_remote(entry):
                # Fetched by kustomize on deploy; the built-in reader cannot, so it is named, never skipped.
                beyond.append(f"remote {field_name} {entry}")
            elif entry.endswith((".yaml", ".yml", ".json")):
                text = _file(read, walk, directory, entry, "resource")
                if field_name == "resources":
                    walk.documents += [(_inside(directory, entry, "resource"), d) for d in _yaml_documents(entry, text)]
            else:
                base = _walk(read, _inside(directory, entry, "resource"), walk, seen)
                namespace = namespace or base
    for entry in _referenced_files(spec):
        _file(read, walk, directory, entry, "file")
    for entry in _plugin_entries(spec):
        # As for resources, a YAML file or else a kustomization directory (`git show` would list a tree).
        if entry.endswith((".yaml", ".yml", ".json")):
            _file(read, walk, directory, entry, "plugin")
        else:
            _walk(read, _inside(directory, entry, "plugin"), walk, seen)
    if beyond:
        walk.beyond_built_in[path] = beyond
    return namespace


def _referenced_files(spec: dict) -> list[str]:
    """The files a kustomization's patches, generators and other settings name (kustomize's Kustomization type)."""
    files: list[str] = []
    files += [p for p in spec.get("patchesStrategicMerge") or [] if isinstance(p, str) and "\n" not in p]
    for key in ("patches", "patchesJson6902", "replacements"):
        files += [p["path"] for p in spec.get(key) or [] if isinstance(p, dict) and p.get("path")]
    for key in ("crds", "configurations"):
        files += [p for p in spec.get(key) or [] if isinstance(p, str)]
    if isinstance(spec.get("openapi"), dict) and spec["openapi"].get("path"):
        files.append(spec["openapi"]["path"])
    for key in ("configMapGenerator", "secretGenerator"):
        for generator in spec.get(key) or []:
            if not isinstance(generator, dict):
                continue
            files += [entry.split("=", 1)[-1] for entry in generator.get("files") or [] if isinstance(entry, str)]
            files += [entry for entry in generator.get("envs") or [] if isinstance(entry, str)]
            if isinstance(generator.get("env"), str):
                files.append(generator["env"])
    return files


def _plugin_entries(spec: dict) -> list[str]:
    """generators/transformers/validators given as paths (files or kustomization directories), not inline."""
    return [
        entry
        for key in ("generators", "transformers", "validators")
        for entry in spec.get(key) or []
        if isinstance(entry, str) and "\n" not in entry
    ]


def _render(kubectl: str, directory: str, walk: _Walk) -> list[tuple[str, dict]]:
    """`kubectl kustomize` over the overlay's files, each object with the file it comes from (its origin)."""
    with tempfile.TemporaryDirectory(prefix="pc-kustomize-") as scratch:
        root = Path(scratch)
        for path, text in walk.files.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        _record_origins(root, directory)
        try:
            built = subprocess.run(
                [kubectl, "kustomize", str(root / directory)],
                capture_output=True,
                text=True,
                env=child_environment({}),
                timeout=_KUBECTL_TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired as err:
            raise OverlayError(f"{directory}: kubectl kustomize did not finish in {_KUBECTL_TIMEOUT_SECONDS}s") from err
        except OSError as err:
            raise RendererMissing(f"{directory}: cannot run {kubectl} kustomize: {err}") from err
    if built.returncode != 0:
        message = built.stderr.strip().replace(f"{scratch}/", "") or f"exited {built.returncode}"
        raise OverlayError(f"{directory}: kubectl kustomize refused it: {message}")
    return _generated_names_unhashed(
        [(_origin(directory, doc), doc) for doc in _yaml_documents(f"{directory} (rendered)", built.stdout)]
    )


def _record_origins(root: Path, directory: str) -> None:
    """Ask kustomize to annotate every object with the file (or generator) it comes from, in the scratch copy."""
    for name in KUSTOMIZATION_FILES:
        path = root / directory / name
        if path.exists():
            spec = yaml.safe_load(path.read_text()) or {}
            spec["buildMetadata"] = sorted({*(spec.get("buildMetadata") or []), "originAnnotations"})
            path.write_text(yaml.safe_dump(spec, sort_keys=False))
            return


def _origin(directory: str, doc: dict) -> str:
    annotations = (doc.get("metadata") or {}).get("annotations") or {}
    origin = yaml.safe_load(annotations.get(_ORIGIN) or "") or {}
    where = origin.get("path") or origin.get("configuredIn")
    return posixpath.normpath(posixpath.join(directory, where)) if where else directory


def _generated_names_unhashed(documents: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """Generated ConfigMaps and Secrets under their declared names, and every reference to them likewise.

    kustomize suffixes a generated name with a hash of its content, so the same generator with other values
    (kind's and platform-control's) would otherwise look like two different objects.
    """
    renamed: dict[str, str] = {}
    for _, doc in documents:
        meta = doc.get("metadata") or {}
        origin = yaml.safe_load((meta.get("annotations") or {}).get(_ORIGIN) or "") or {}
        if (origin.get("configuredBy") or {}).get("kind") in _GENERATORS and _NAME_HASH.search(meta.get("name", "")):
            renamed[meta["name"]] = _NAME_HASH.sub("", meta["name"])

    def rename(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: rename(item) for key, item in value.items()}
        if isinstance(value, list):
            return [rename(item) for item in value]
        return renamed.get(value, value) if isinstance(value, str) else value

    return [(source, rename(doc)) for source, doc in documents] if renamed else documents


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
    """The same facts for what a live cluster runs, minus the objects Kubernetes itself puts in a namespace.

    Generated ConfigMaps and Secrets go by their declared names, as in the rendered overlays: a name ending in
    kustomize's content hash (`-` and ten characters of its alphabet) is compared without it.
    """
    facts = _facts(
        [("live", d) for d in deployments],
        [("live", c) for c in configmaps if c.name not in SYSTEM_CONFIGMAPS],
        [("live", s.name) for s in secrets if s.type not in SYSTEM_SECRET_TYPES],
    )
    unhashed: Facts = {}
    for (kind, owner, name), source in facts.items():
        if kind in ("configmap", "secret"):
            name = _NAME_HASH.sub("", name)
        elif kind == "configmap-key":
            configmap, _, key = name.partition("/")
            name = f"{_NAME_HASH.sub('', configmap)}/{key}"
        unhashed[(kind, owner, name)] = source
    return unhashed


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
