"""GitLab's CI Lint answer (`GET /projects/:id/ci/lint`, doc/api/lint.md): the configuration GitLab itself merges
for a commit, every include resolved (local, project, template, component, remote) and `spec:inputs` filled."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pc_release.ci.config import config_from_merged_yaml
from pc_release.ci.errors import CiConfigError
from pc_release.ci.jobs import CiConfig


@dataclass(frozen=True)
class CiLint:
    """The keys of GitLab's `Entities::Ci::Lint::Result` pc-release reads."""

    valid: bool
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    merged_yaml: str | None = None
    includes: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def from_answer(cls, answer: Mapping[str, Any]) -> CiLint:
        return cls(
            valid=bool(answer.get("valid")),
            errors=tuple(str(error) for error in answer.get("errors") or ()),
            warnings=tuple(str(warning) for warning in answer.get("warnings") or ()),
            merged_yaml=answer.get("merged_yaml"),
            includes=tuple(item for item in answer.get("includes") or () if isinstance(item, dict)),
        )

    def own_files(self) -> list[str]:
        """The project's own files GitLab read for the configuration: `include: local`, and `include: project:` of
        the project itself (where a job's definition is looked up)."""
        own = []
        for item in self.includes:
            project = str((item.get("extra") or {}).get("project") or "").lower()
            same = item.get("type") == "file" and project == str(item.get("context_project") or "").lower()
            if item.get("location") and (item.get("type") == "local" or same):
                own.append(str(item["location"]))
        return own

    def config(self) -> CiConfig:
        """The merged configuration, for rules to be evaluated with a pipeline's variables; CiConfigError with
        GitLab's own errors when GitLab finds it invalid."""
        if not self.valid:
            raise CiConfigError(f"GitLab's CI Lint: {'; '.join(self.errors) or 'invalid'}")
        if self.merged_yaml is None:
            raise CiConfigError("GitLab's CI Lint sent no merged configuration")
        try:
            return config_from_merged_yaml(self.merged_yaml)
        except CiConfigError as err:
            raise CiConfigError(f"as GitLab merged it: {err}") from None
