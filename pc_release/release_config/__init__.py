"""The platform repo's own release config (`.pc-release.yaml`), read from the exact SHA being promoted.

- `schema`: the settings as pydantic models, with defaults and validators.
- `messages`: ReleaseConfigError, one line per defect in the maintainers' words.
- `load`: YAML to a validated ReleaseConfig.
- `runtime_matrix`: the runtimes a bash runtime matrix script declares.
"""

from pc_release.release_config.load import load_release_config
from pc_release.release_config.messages import ReleaseConfigError
from pc_release.release_config.runtime_matrix import RUNTIME_MATRIX_VARIABLE, RuntimeMatrixError, parse_runtime_matrix
from pc_release.release_config.schema import (
    DEFAULT_ENVIRONMENT_DRIFT_SIGNATURES,
    DEFAULT_RELEASE_CONFIG,
    KIND_PARITY_ALLOW_KINDS,
    PC_STAGES,
    PREFLIGHT_CHECKS,
    RELEASE_CONFIG_PATH,
    CodegenConfig,
    CommandCheck,
    KindParityConfig,
    PreflightConfig,
    ReleaseConfig,
    ReportSpec,
    RuntimeConfigSpec,
    SchemaConfig,
    matches_any,
)

__all__ = [
    "DEFAULT_ENVIRONMENT_DRIFT_SIGNATURES",
    "DEFAULT_RELEASE_CONFIG",
    "KIND_PARITY_ALLOW_KINDS",
    "PC_STAGES",
    "PREFLIGHT_CHECKS",
    "RELEASE_CONFIG_PATH",
    "RUNTIME_MATRIX_VARIABLE",
    "CodegenConfig",
    "CommandCheck",
    "KindParityConfig",
    "PreflightConfig",
    "ReleaseConfig",
    "ReleaseConfigError",
    "ReportSpec",
    "RuntimeConfigSpec",
    "RuntimeMatrixError",
    "SchemaConfig",
    "load_release_config",
    "matches_any",
    "parse_runtime_matrix",
]
