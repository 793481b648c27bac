"""The single wiring point of the pc-release code location: every domain's definitions plus the resources."""

from __future__ import annotations

import os

import dagster as dg

from pc_release.defs.audit import definitions as audit
from pc_release.defs.automation import definitions as automation
from pc_release.defs.pipeline import definitions as pipeline
from pc_release.defs.pipeline.cluster import ReleaseClusterResource
from pc_release.defs.preflight import definitions as preflight
from pc_release.defs.promotion import definitions as promotion
from pc_release.defs.readiness import definitions as readiness
from pc_release.defs.readiness.resources import ReadinessResource
from pc_release.resources.commands import CommandRunnerResource
from pc_release.resources.files import ReleaseFilesResource
from pc_release.resources.git import GitResource
from pc_release.resources.gitlab import TOKEN_ENV_VAR, GitLabResource
from pc_release.resources.kubernetes import KubernetesResource
from pc_release.resources.run_storage import RunScopedIOManager
from pc_release.settings import Settings

DOMAINS = (promotion, preflight, audit, automation, pipeline, readiness)


def _postgres_url(settings: Settings) -> str | dg.EnvVar | None:
    # Bound as an EnvVar when it comes from the environment, so the UI never shows the password.
    if os.environ.get("PC_RELEASE_POSTGRES_URL"):
        return dg.EnvVar("PC_RELEASE_POSTGRES_URL")
    return settings.postgres_url.get_secret_value() if settings.postgres_url else None


def _git(settings: Settings) -> GitResource:
    where = (
        dict(
            repository_url=settings.clone_url,
            clone_cache=str(settings.clone_cache_dir),
            token=dg.EnvVar(TOKEN_ENV_VAR),
        )
        if settings.provisions_clone
        else dict(repo_path=str(settings.repo_path))
    )
    return GitResource(
        **where, remote=settings.remote, master_branch=settings.master_branch, release_branch=settings.release_branch
    )


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    return {
        "git": _git(settings),
        "gitlab": GitLabResource(
            url=settings.gitlab_url,
            project=settings.gitlab_project,
            token=dg.EnvVar(TOKEN_ENV_VAR),
            master_branch=settings.master_branch,
            release_branch=settings.release_branch,
        ),
        "release_files": ReleaseFilesResource(dist_dir=str(settings.candidate_dir)),
        # Concurrent runs on one DAGSTER_HOME must not read each other's asset values (see run_storage.py).
        "io_manager": RunScopedIOManager(),
        "commands": CommandRunnerResource(
            env={"PC_RELEASE_NODE_MODULES": str(settings.node_modules)} if settings.node_modules else {}
        ),
        "kubernetes": KubernetesResource(
            context=settings.kube_context, kubeconfig=str(settings.kubeconfig) if settings.kubeconfig else None
        ),
        "release_cluster": ReleaseClusterResource(
            context=settings.release_kube_context,
            kubeconfig=str(settings.release_kubeconfig) if settings.release_kubeconfig else None,
            namespace=settings.release_namespace,
        ),
        "readiness": ReadinessResource(
            postgres_url=_postgres_url(settings),
            release_worktree=str(settings.release_worktree) if settings.release_worktree else None,
            canonical_remotes=settings.canonical_remotes,
        ),
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
