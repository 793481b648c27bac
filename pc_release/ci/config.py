"""A CiConfig from either source: GitLab's own merged configuration (CI Lint's `merged_yaml`), or, offline, the
`.gitlab-ci.yml` and its local includes read from the tree (pc_release.ci.includes)."""

from __future__ import annotations

import dataclasses
from typing import Any

import yaml

from pc_release.ci.document import resolve_extends
from pc_release.ci.errors import CiConfigError
from pc_release.ci.includes import Reader, Source, expand, unseen_includes_note
from pc_release.ci.jobs import CiConfig, build_config

CI_FILE = ".gitlab-ci.yml"


def load_ci_config(read_file: Reader, entry: str = CI_FILE) -> CiConfig:
    """Parse `entry` and its local includes (read through `read_file`, which returns None when absent); other
    includes are named in `unresolved_includes` and in configuration errors."""
    text = read_file(entry)
    if text is None:
        raise CiConfigError("Missing CI config file")
    expanded = expand(text, entry, Source(read_file))
    try:
        config = build_config(expanded.document)
    except CiConfigError as err:
        if expanded.unresolved:
            raise CiConfigError(f"{err} ({unseen_includes_note(expanded.unresolved)})") from None
        raise
    return dataclasses.replace(config, unresolved_includes=tuple(expanded.unresolved))


def _plain_keys(node: Any) -> Any:
    """Older GitLab versions dump the merged YAML with Ruby symbol keys (`:script:`); newer ones with strings."""
    if isinstance(node, dict):
        return {
            (key[1:] if isinstance(key, str) and key.startswith(":") else key): _plain_keys(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_plain_keys(item) for item in node]
    return node


def config_from_merged_yaml(merged_yaml: str) -> CiConfig:
    """The configuration GitLab computed: includes merged, `extends` and `!reference` resolved."""
    try:
        document = yaml.safe_load(merged_yaml) or {}
    except yaml.YAMLError as err:
        raise CiConfigError(f"GitLab's merged configuration is not YAML: {err}") from err
    if not isinstance(document, dict):
        raise CiConfigError("GitLab's merged configuration should be a hash")
    # `extends` is kept in GitLab's merged YAML next to the merged keys: resolving it again changes nothing.
    return build_config(resolve_extends(_plain_keys(document)))
