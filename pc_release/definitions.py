"""The single wiring point of the pc-release code location: every domain's definitions plus the resources."""

from __future__ import annotations

import dagster as dg

from pc_release.defs.preflight import definitions as preflight
from pc_release.defs.promotion import definitions as promotion
from pc_release.resources.files import ReleaseFilesResource
from pc_release.resources.git import GitResource
from pc_release.resources.gitlab import TOKEN_ENV_VAR, GitLabResource
from pc_release.settings import Settings

DOMAINS = (promotion, preflight)


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    return {
        "git": GitResource(
            repo_path=str(settings.repo_path),
            remote=settings.remote,
            master_branch=settings.master_branch,
            release_branch=settings.release_branch,
        ),
        "gitlab": GitLabResource(
            url=settings.gitlab_url,
            project=settings.gitlab_project,
            token=dg.EnvVar(TOKEN_ENV_VAR),
            master_branch=settings.master_branch,
            release_branch=settings.release_branch,
        ),
        "release_files": ReleaseFilesResource(dist_dir=str(settings.candidate_dir)),
    }


def build_definitions(
    settings: Settings | None = None, resources: dict[str, dg.ConfigurableResource] | None = None
) -> dg.Definitions:
    """The code location; tests and the CLI pass their own settings, and tests may swap a resource."""
    return dg.Definitions.merge(
        *(domain.defs for domain in DOMAINS),
        dg.Definitions(resources=build_resources(settings or Settings()) | (resources or {})),
    )


defs = build_definitions()
