"""Runtime files and config keys on the promoted SHA: the policy's incident (lost listener files, lost
WebSocket config keys), caught before the release branch moves."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from pc_release.readiness.models import Finding, RuntimeFindings
from pc_release.readiness.tree import TreeAtSha
from pc_release.release_config import ReleaseConfig


@dataclass(frozen=True)
class ConfigKeyRef:
    key: str
    line: int
    source: str


def config_key_refs(manifest: str) -> list[ConfigKeyRef]:
    """Every required ConfigMap key a Kubernetes manifest reads (env configMapKeyRef, volume items).

    `optional: true` references are left out: a missing optional key is not an error at runtime.
    """
    refs: list[ConfigKeyRef] = []
    for document in yaml.compose_all(manifest, Loader=yaml.SafeLoader):
        if document is not None:
            _walk(document, refs)
    return refs


def _mapping(node: yaml.Node | None) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {key.value: value for key, value in node.value if isinstance(key, yaml.ScalarNode)}


def _walk(node: yaml.Node, refs: list[ConfigKeyRef]) -> None:
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _walk(item, refs)
        return
    if not isinstance(node, yaml.MappingNode):
        return
    fields = _mapping(node)
    ref = _mapping(fields.get("configMapKeyRef"))
    if ref and "key" in ref and not _optional(ref):
        name = ref["name"].value if "name" in ref else "?"
        refs.append(ConfigKeyRef(str(ref["key"].value), ref["key"].start_mark.line + 1, f"configMapKeyRef {name}"))
    volume = _mapping(fields.get("configMap"))
    items = volume.get("items")
    if volume and isinstance(items, yaml.SequenceNode) and not _optional(volume):
        for item in items.value:
            key = _mapping(item).get("key")
            if isinstance(key, yaml.ScalarNode):
                name = volume["name"].value if "name" in volume else "?"
                refs.append(ConfigKeyRef(str(key.value), key.start_mark.line + 1, f"configMap volume {name}"))
    for _, value in node.value:
        _walk(value, refs)


def _optional(fields: dict[str, yaml.Node]) -> bool:
    node = fields.get("optional")
    return isinstance(node, yaml.ScalarNode) and node.value.lower() == "true"


def config_keys(text: str) -> set[str]:
    """Top-level keys of a runtime's YAML config file."""
    data = yaml.safe_load(text)
    if data is None:
        return set()
    if not isinstance(data, dict):
        raise ValueError(f"must be a mapping of config keys, not {type(data).__name__}")
    return {str(key) for key in data}


def missing_runtime_files(tree: TreeAtSha, config: ReleaseConfig) -> RuntimeFindings:
    declared = config.runtime_required_files
    if not declared:
        return RuntimeFindings(applicable=False, reason="no runtime declares required files (runtime_required_files)")
    findings = [
        Finding(file=path, rule="runtime-file-missing", message=f"required by runtime {runtime}, absent at the SHA")
        for runtime, paths in declared.items()
        for path in paths
        if not tree.exists(path)
    ]
    return RuntimeFindings(checked=sorted(declared), findings=findings)


def missing_config_keys(tree: TreeAtSha, config: ReleaseConfig) -> RuntimeFindings:
    declared = config.runtime_config
    if not declared:
        return RuntimeFindings(applicable=False, reason="no runtime declares manifests and config (runtime_config)")
    findings: list[Finding] = []
    notes: list[str] = []
    for runtime, spec in declared.items():
        text = tree.read(spec.config_file)
        if text is None:
            findings.append(
                Finding(file=spec.config_file, rule="runtime-config-missing", message=f"config of {runtime} absent")
            )
            continue
        try:
            keys = config_keys(text)
        except (yaml.YAMLError, ValueError) as err:
            findings.append(Finding(file=spec.config_file, rule="runtime-config-invalid", message=str(err)))
            continue
        for manifest in spec.manifests:
            findings += _manifest_findings(tree, runtime, manifest, spec.config_file, keys)
        notes.append(f"{runtime}: {len(keys)} keys in {spec.config_file}")
    return RuntimeFindings(checked=sorted(declared), findings=findings, notes=notes)


def _manifest_findings(tree: TreeAtSha, runtime: str, manifest: str, config_file: str, keys: set[str]) -> list[Finding]:
    text = tree.read(manifest)
    if text is None:
        return [Finding(file=manifest, rule="runtime-manifest-missing", message=f"manifest of {runtime} absent")]
    try:
        refs = config_key_refs(text)
    except yaml.YAMLError as err:
        return [Finding(file=manifest, rule="runtime-manifest-invalid", message=f"invalid YAML: {err}")]
    return [
        Finding(
            file=manifest,
            line=ref.line,
            rule="runtime-config-key-missing",
            message=f"{ref.source} key {ref.key} is not in {config_file} (runtime {runtime})",
        )
        for ref in refs
        if ref.key not in keys
    ]
