"""pc-release settings, read from the environment under the policy's own variable names."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    repo_path: Path = Field(default=Path("."), validation_alias="PC_RELEASE_REPO_PATH")
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

    @field_validator(
        "skip_local_preflight",
        "require_local_preflight",
        "allow_release_branch_divergence",
        "dev_test_deploy",
        mode="before",
    )
    @classmethod
    def _policy_boolean(cls, value: object) -> object:
        # The policy's shell scripts test `= true`; an empty variable means "not set", not an error.
        if isinstance(value, str) and value.strip() == "":
            return False
        return value

    @property
    def candidate_dir(self) -> Path:
        return self.dist_dir if self.dist_dir is not None else self.repo_path / "dist"

    @property
    def token_env_var(self) -> str:
        return TOKEN_ENV_VAR
