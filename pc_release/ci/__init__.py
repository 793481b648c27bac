"""GitLab CI configuration, read the way GitLab reads it, for the readiness checks and the sandbox's pipelines.

- `expressions`: `rules:if` / `only:variables` expressions.
- `document`: one file's YAML (`!reference`, `spec:inputs`), deep merge, `extends`, `!reference`.
- `includes`: local includes, the offline reader; other includes are named, not fetched.
- `jobs`: the jobs a pipeline gets from a merged configuration, with rules evaluated for its variables.
- `config`: a CiConfig from GitLab's merged YAML (CI Lint) or, offline, from the tree.
"""

from pc_release.ci.config import CI_FILE, config_from_merged_yaml, load_ci_config
from pc_release.ci.errors import CiConfigError
from pc_release.ci.expressions import evaluate_expression
from pc_release.ci.jobs import CiConfig, CiJob

__all__ = [
    "CI_FILE",
    "CiConfig",
    "CiConfigError",
    "CiJob",
    "config_from_merged_yaml",
    "evaluate_expression",
    "load_ci_config",
]
