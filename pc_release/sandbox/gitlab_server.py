"""The sandbox GitLab's public names, for its users (tests, the demo, bench scripts); it lives in
`pc_release.sandbox.gitlab` (see that package for how it is split)."""

from pc_release.sandbox.gitlab.errors import PipelineCreationError, SandboxLookupError
from pc_release.sandbox.gitlab.pipeline_state import STATUSES, composite_status
from pc_release.sandbox.gitlab.server import SandboxGitLab, connect_clone

__all__ = [
    "STATUSES",
    "PipelineCreationError",
    "SandboxGitLab",
    "SandboxLookupError",
    "composite_status",
    "connect_clone",
]
