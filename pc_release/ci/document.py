"""One CI configuration file as GitLab reads it: YAML with `!reference`, a `spec:` header whose `inputs` are
interpolated into the file, GitLab's deep merge, `extends:` and `!reference` resolution."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from pc_release.ci.errors import CiConfigError

RESERVED_KEYWORDS = frozenset(
    {
        "image",
        "services",
        "stages",
        "types",
        "before_script",
        "after_script",
        "variables",
        "cache",
        "include",
        "workflow",
        "default",
        "spec",
    }
)
MAX_EXTENDS_DEPTH = 11
MAX_REFERENCE_DEPTH = 10
_INTERPOLATION = re.compile(r"\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]")


@dataclass(frozen=True)
class Reference:
    """A `!reference [job, key, ...]` tag, resolved after includes and `extends` like GitLab does."""

    path: tuple[str, ...]


class _CiLoader(yaml.SafeLoader):
    """SafeLoader plus GitLab's only custom tag."""


def _construct_reference(loader: yaml.SafeLoader, node: yaml.Node) -> Reference:
    if not isinstance(node, yaml.SequenceNode):
        raise CiConfigError("!reference must be a sequence, e.g. !reference [.job, script]")
    return Reference(tuple(str(item) for item in loader.construct_sequence(node)))


_CiLoader.add_constructor("!reference", _construct_reference)


def parse_file(text: str, path: str, inputs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The configuration of one file; a `spec:inputs` header is filled from `inputs`, else from its defaults."""
    try:
        documents = [doc for doc in yaml.load_all(text, Loader=_CiLoader) if doc is not None]
    except yaml.YAMLError as err:
        raise CiConfigError(f"{path}: invalid YAML: {err}") from err
    # A file with a `spec:` header keeps its configuration in the second document.
    header: dict[str, Any] | None = None
    if len(documents) == 2 and isinstance(documents[0], dict) and "spec" in documents[0]:
        header, documents = documents[0], documents[1:]
    if not documents:
        return {}
    if len(documents) > 1 or not isinstance(documents[0], dict):
        raise CiConfigError(f"{path}: config should be a hash")
    if header is None:
        if inputs:
            raise CiConfigError(
                f"{path}: Given inputs not defined in the `spec` section of the included configuration file"
            )
        return documents[0]
    return _interpolate(documents[0], _input_values(header.get("spec"), inputs or {}, path), path)


def _input_values(spec: Any, given: Mapping[str, Any], path: str) -> dict[str, Any]:
    declared = spec.get("inputs") if isinstance(spec, dict) else None
    declared = declared if isinstance(declared, dict) else {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise CiConfigError(f"{path}: unknown input arguments: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, definition in declared.items():
        definition = definition if isinstance(definition, dict) else {}
        if name in given:
            values[name] = given[name]
        elif "default" in definition:
            values[name] = definition["default"]
        else:
            raise CiConfigError(f"{path}: `{name}` input: required value has not been provided")
    return values


def _interpolate(node: Any, values: Mapping[str, Any], path: str) -> Any:
    """`$[[ inputs.name ]]` in keys and values; a value that is exactly one interpolation keeps the input's type."""

    def value_of(match: re.Match[str]) -> Any:
        name = match.group(1)
        if name not in values:
            raise CiConfigError(f"{path}: unknown interpolation key: `{name}`")
        return values[name]

    def text(value: str) -> Any:
        whole = _INTERPOLATION.fullmatch(value.strip())
        if whole is not None:
            return value_of(whole)
        return _INTERPOLATION.sub(lambda m: str(value_of(m)), value)

    if isinstance(node, str):
        return text(node)
    if isinstance(node, dict):
        return {(str(text(k)) if isinstance(k, str) else k): _interpolate(v, values, path) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(item, values, path) for item in node]
    return node


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """GitLab's Hash#deep_merge: hashes merge key by key, anything else (lists too) is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def resolve_extends(document: dict[str, Any]) -> dict[str, Any]:
    resolved: dict[str, Any] = {}

    def resolve(name: str, chain: tuple[str, ...]) -> dict[str, Any]:
        if name in resolved:
            return resolved[name]
        entry = document[name]
        parents = entry.get("extends")
        if parents is None:
            resolved[name] = entry
            return entry
        if not isinstance(parents, str | list) or not all(isinstance(p, str) for p in parents):
            raise CiConfigError(f"{name}: `extends` must be a job name or a list of job names")
        parent_names = [parents] if isinstance(parents, str) else list(parents)
        if len(chain) >= MAX_EXTENDS_DEPTH:
            raise CiConfigError(f"{name}: nesting too deep in `extends`")
        base: dict[str, Any] = {}
        for parent in parent_names:
            if parent in chain or parent == name:
                raise CiConfigError(f"{name}: circular dependency detected in `extends`")
            if not isinstance(document.get(parent), dict):
                raise CiConfigError(f"{name}: unknown keys in `extends` ({parent})")
            base = deep_merge(base, resolve(parent, (*chain, name)))
        own = {key: value for key, value in entry.items() if key != "extends"}
        resolved[name] = deep_merge(base, own)
        return resolved[name]

    return {
        name: resolve(name, ()) if isinstance(value, dict) and name not in RESERVED_KEYWORDS else value
        for name, value in document.items()
    }


def resolve_references(document: dict[str, Any]) -> dict[str, Any]:
    def lookup(reference: Reference, depth: int) -> Any:
        if depth > MAX_REFERENCE_DEPTH:
            raise CiConfigError(f"!reference {list(reference.path)}: too many nested references")
        node: Any = document
        for key in reference.path:
            if not isinstance(node, dict) or key not in node:
                raise CiConfigError(f"!reference {list(reference.path)} could not be found")
            node = node[key]
        return walk(node, depth + 1)

    def walk(node: Any, depth: int) -> Any:
        if isinstance(node, Reference):
            return lookup(node, depth)
        if isinstance(node, dict):
            return {key: walk(value, depth) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item, depth) for item in node]
        return node

    return walk(document, 0)
