"""pc-release settings, read from the environment under the policy's own variable names."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pc_release.resources.gitlab import TOKEN_ENV_VAR


class Settings(BaseSettings):
    """Everything pc-release needs to know about where it runs, except the token.

    The GitLab token is deliberately absent: it is bound straight into the GitLab resource with
    `dg.EnvVar(TOKEN_ENV_VAR)` and never held in a settings object that could be printed.
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    # The policy's variables, with the policy's names and meanings.
    release_mode: str = Field(default="full", validation_alias="PLATFORM_CONTROL_RELEASE_MODE")
    release_profile: str = Field(default="standard", validation_alias="PLATFORM_CONTROL_RELEASE_PROFILE")
    skip_local_preflight: bool = Field(default=False, validation_alias="PLATFORM_CONTROL_SKIP_LOCAL_PREFLIGHT")
    require_local_preflight: bool = Field(default=False, validation_alias="PLATFORM_CONTROL_REQUIRE_LOCAL_PREFLIGHT")
    allow_release_branch_divergence: bool = Field(
        default=False, validation_alias="PLATFORM_CONTROL_ALLOW_RELEASE_BRANCH_DIVERGENCE"
    )
    dev_test_deploy: bool = Field(default=False, validation_alias="PLATFORM_CONTROL_DEV_TEST_DEPLOY")

    # Where pc-release works.
    repo_path: Path = Field(
        default=Path("."),
        validation_alias="PC_RELEASE_REPO_PATH",
        description="A local clone of platform-control (single host). Unset with PC_RELEASE_CLONE_CACHE or "
        "PC_RELEASE_REPOSITORY_URL set: a clone pc-release provisions itself.",
    )
    repository_url: str | None = Field(
        default=None,
        validation_alias="PC_RELEASE_REPOSITORY_URL",
        description="Where a provisioned clone comes from; default the GitLab project's http_url_to_repo.",
    )
    clone_cache: Path | None = Field(
        default=None,
        validation_alias="PC_RELEASE_CLONE_CACHE",
        description="Directory of provisioned clones; default $XDG_CACHE_HOME/pc-release/clones.",
    )
    remote: str = Field(default="origin", validation_alias="PC_RELEASE_REMOTE")
    master_branch: str = Field(default="master", validation_alias="PC_RELEASE_MASTER_BRANCH")
    release_branch: str = Field(default="release/platform-control", validation_alias="PC_RELEASE_RELEASE_BRANCH")
    dist_dir: Path | None = Field(
        default=None,
        validation_alias="PC_RELEASE_DIST_DIR",
        description="Where the release candidate env and records go; default <repo>/dist.",
    )
    gitlab_url: str = Field(default="http://127.0.0.1:8929", validation_alias="PC_RELEASE_GITLAB_URL")
    gitlab_project: str = Field(
        default="platform/platform-control",
        validation_alias=AliasChoices("PC_RELEASE_GITLAB_PROJECT", "CI_PROJECT_PATH"),
    )

    # The local preflight: where its checks find Node packages and (optionally) the live kind cluster.
    node_modules: Path | None = Field(
        default=None,
        validation_alias="PC_RELEASE_NODE_MODULES",
        description="node_modules holding @playwright/test for the frontend e2e check (passed to the check).",
    )
    kube_context: str | None = Field(
        default=None,
        validation_alias="PC_RELEASE_KUBE_CONTEXT",
        description="kubeconfig context of the local kind cluster; kind parity then compares the live cluster.",
    )
    kubeconfig: Path | None = Field(default=None, validation_alias="PC_RELEASE_KUBECONFIG")

    # The release pipeline: the cluster it deploys to, read for runtime image conformance (unset: not checked).
    release_kube_context: str | None = Field(default=None, validation_alias="PC_RELEASE_RELEASE_KUBE_CONTEXT")
    release_kubeconfig: Path | None = Field(default=None, validation_alias="PC_RELEASE_RELEASE_KUBECONFIG")
    release_namespace: str = Field(default="platform-control", validation_alias="PC_RELEASE_RELEASE_NAMESPACE")

    # Automation: the master CI sensor and the scheduled drift audit.
    auto_promotion: bool = Field(
        default=False,
        validation_alias="PC_RELEASE_AUTO_PROMOTION",
        description="Let master_ci_sensor promote the master head SHA once its CI is green; off by default.",
    )
    drift_audit_cron: str = Field(default="0 * * * *", validation_alias="PC_RELEASE_DRIFT_AUDIT_CRON")
    master_ci_sensor_interval_seconds: int = Field(
        default=60,
        ge=1,
        validation_alias="PC_RELEASE_MASTER_CI_SENSOR_INTERVAL_SECONDS",
        description="Seconds between master_ci_sensor ticks: the most a green master head waits to be requested.",
    )
    release_pipeline_sensor_interval_seconds: int = Field(
        default=15,
        ge=1,
        validation_alias="PC_RELEASE_RELEASE_PIPELINE_SENSOR_INTERVAL_SECONDS",
        description="Seconds between release_pipeline_sensor ticks.",
    )
    dev_test_max_age_hours: float = Field(
        default=24.0,
        gt=0,
        validation_alias="PC_RELEASE_DEV_TEST_MAX_AGE_HOURS",
        description="How long the release branch may point at a dev-test SHA before the drift audit fails.",
    )

    # Release readiness: where the schema checks find PostgreSQL, and the operator's state they inspect.
    postgres_url: SecretStr | None = Field(
        default=None,
        validation_alias="PC_RELEASE_POSTGRES_URL",
        description="Existing PostgreSQL server (needs CREATEDB) for the schema checks; unset: a throwaway one.",
    )
    release_worktree: Path | None = Field(
        default=None,
        validation_alias="PC_RELEASE_RELEASE_WORKTREE",
        description="The operator's release worktree; uncommitted or unpushed edits there block a promotion.",
    )
    canonical_remotes: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="PC_RELEASE_CANONICAL_REMOTES",
        description="Comma-separated remotes whose master must already contain the promoted SHA.",
    )

    @field_validator("canonical_remotes", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator(
        "skip_local_preflight",
        "require_local_preflight",
        "allow_release_branch_divergence",
        "dev_test_deploy",
        "auto_promotion",
        mode="before",
    )
    @classmethod
    def _policy_boolean(cls, value: object) -> object:
        # The policy's shell scripts test `= true`; an empty variable means "not set", not an error.
        if isinstance(value, str) and value.strip() == "":
            return False
        return value

    @property
    def provisions_clone(self) -> bool:
        """True when no local clone is named and a provisioned one is asked for."""
        asked = self.clone_cache is not None or self.repository_url is not None
        return asked and "repo_path" not in self.model_fields_set

    @property
    def clone_url(self) -> str:
        """The provisioned clone's URL: as GitLab builds a project's http_url_to_repo unless told otherwise."""
        return self.repository_url or f"{self.gitlab_url.rstrip('/')}/{self.gitlab_project}.git"

    @property
    def clone_cache_dir(self) -> Path:
        if self.clone_cache is not None:
            return self.clone_cache
        return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pc-release" / "clones"

    @property
    def candidate_dir(self) -> Path:
        return self.dist_dir if self.dist_dir is not None else self.repo_path / "dist"

    @property
    def token_env_var(self) -> str:
        return TOKEN_ENV_VAR
