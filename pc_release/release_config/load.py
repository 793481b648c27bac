"""Reading `.pc-release.yaml`: YAML, then the schema, with every defect described on its own line."""

from __future__ import annotations

import yaml
from pydantic import ValidationError

from pc_release.release_config.messages import ReleaseConfigError, describe
from pc_release.release_config.schema import DEFAULT_RELEASE_CONFIG, RELEASE_CONFIG_PATH, ReleaseConfig


def load_release_config(text: str, source: str = RELEASE_CONFIG_PATH) -> ReleaseConfig:
    """Parse and validate `.pc-release.yaml` text; an empty file means the defaults."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ReleaseConfigError([f"{source}: invalid YAML: {where}{problem}"]) from err
    if data is None:
        return DEFAULT_RELEASE_CONFIG
    if not isinstance(data, dict):
        raise ReleaseConfigError([f"{source}: must be a mapping of settings, got {type(data).__name__}"])
    try:
        return ReleaseConfig.model_validate(data)
    except ValidationError as err:
        raise ReleaseConfigError([describe(source, error, ReleaseConfig) for error in err.errors()]) from err
