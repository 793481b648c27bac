"""ReleasePolicyResource: the policy's switches and defaults, read from the environment once, where resources are
bound, so the UI shows the values a run uses and a run launched in another process gets the same ones."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from pc_release.settings import Settings


class ReleasePolicyResource(dg.ConfigurableResource):
    """The defaults and switches of the release policy a promotion applies when its run config does not choose."""

    default_source_ref: str = Field(
        default="refs/remotes/origin/master", description="What a promotion promotes when its run config names no ref."
    )
    release_mode: str = Field(default="full", description="PLATFORM_CONTROL_RELEASE_MODE: the default mode.")
    release_profile: str = Field(
        default="standard", description="PLATFORM_CONTROL_RELEASE_PROFILE: the default profile."
    )
    skip_local_preflight: bool = Field(default=False, description="PLATFORM_CONTROL_SKIP_LOCAL_PREFLIGHT")
    require_local_preflight: bool = Field(default=False, description="PLATFORM_CONTROL_REQUIRE_LOCAL_PREFLIGHT")
    allow_release_branch_divergence: bool = Field(
        default=False, description="PLATFORM_CONTROL_ALLOW_RELEASE_BRANCH_DIVERGENCE (incident override)"
    )
    auto_promotion: bool = Field(
        default=False, description="PC_RELEASE_AUTO_PROMOTION: master_ci_sensor promotes green master heads."
    )
    dev_test_max_age_hours: float = Field(
        default=24.0,
        gt=0,
        description="PC_RELEASE_DEV_TEST_MAX_AGE_HOURS: how long release may point at a dev-test SHA.",
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> ReleasePolicyResource:
        return cls(
            # The full name: a short "origin/master" would lose to a tag of that name.
            default_source_ref=f"refs/remotes/{settings.remote}/{settings.master_branch}",
            release_mode=settings.release_mode,
            release_profile=settings.release_profile,
            skip_local_preflight=settings.skip_local_preflight,
            require_local_preflight=settings.require_local_preflight,
            allow_release_branch_divergence=settings.allow_release_branch_divergence,
            auto_promotion=settings.auto_promotion,
            dev_test_max_age_hours=settings.dev_test_max_age_hours,
        )
