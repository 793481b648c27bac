"""The single wiring point of the pc-release code location: every domain's definitions plus the resources."""

from __future__ import annotations

import inspect
import json
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
from pc_release.resources.policy import ReleasePolicyResource
from pc_release.resources.run_storage import RunScopedIOManager
from pc_release.settings import Settings

DOMAINS = (promotion, preflight, audit, pipeline, readiness)
# Domains with definitions whose shape depends on settings (a cron, a sensor's default status): built with the
# code location, so importing a domain never reads the environment.
CONFIGURED = (audit, automation, pipeline, promotion)


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
        "policy": ReleasePolicyResource.from_settings(settings),
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


# Fields whose value is a credential: the description names where it comes from, never the value.
SECRET_FIELDS = frozenset({"token", "postgres_url"})


def _shown(field: str, value: object) -> str:
    if isinstance(value, dg.EnvVar):
        return f"from ${value.env_var_name}"
    if value is None or value == "":
        return "unset"
    if field in SECRET_FIELDS:
        return "set, not shown"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return str(value)


def describe(key: str, resource: dg.ConfigurableResource) -> str:
    """What the UI's Resources page shows for a settled resource: its effective values (one `key=value` per field,
    environment variables as `from $NAME`, credentials never), then its own description."""
    values = ", ".join(f"{field}={_shown(field, getattr(resource, field))}" for field in type(resource).model_fields)
    own = resource.get_resource_definition().description
    return f"{key}: {values}" + (f"\n\n{inspect.cleandoc(own)}" if own else "")


def settled(key: str, resource: dg.ConfigurableResource) -> dg.ResourceDefinition:
    """The resource exactly as the settings built it, with no run config of its own: the Launchpad then shows only
    the promotion's choices, and a run cannot point the release at another repository or GitLab by editing YAML.
    Secrets stay environment-variable references (`{"env": ...}`), resolved when the resource starts. A settled
    resource has no config fields left for the UI to list, so its description carries its values."""
    definition = resource.get_resource_definition()
    return definition.configured(resource._convert_to_config_dictionary(), description=describe(key, resource))


def build_definitions(
    settings: Settings | None = None, resources: dict[str, dg.ConfigurableResource] | None = None
) -> dg.Definitions:
    """The code location; tests and the CLI pass their own settings, and tests may swap a resource.

    The only place the code location reads the environment: definitions get what they need from resources
    (handed to a run launched in another process with the rest of the code location, and settled, so that no run
    config can change them).
    """
    settings = settings or Settings()
    bound = build_resources(settings) | (resources or {})
    return dg.Definitions.merge(
        *(domain.defs for domain in DOMAINS),
        *(domain.configured_defs(settings) for domain in CONFIGURED),
        dg.Definitions(resources={key: settled(key, resource) for key, resource in bound.items()}),
    )


defs = build_definitions()
