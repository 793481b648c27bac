"""Run config of a promotion; unset fields fall back to the policy resource's defaults (its environment variables)."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from pc_release.models import PromotionRequest
from pc_release.policy.promotion import build_request
from pc_release.resources.policy import ReleasePolicyResource

PROMOTE_JOB = "promote_release"
DEV_TEST_JOB = "dev_test_deploy"
# dagster.yaml limits runs carrying this tag to one at a time: promotions are serialized by the queue.
PROMOTION_TAG = "pc-release/promotion"


class PromotionConfig(dg.Config):
    source_ref: str | None = Field(
        default=None,
        description="Ref or full SHA to promote; default the remote's master, refs/remotes/<remote>/<master>.",
    )
    mode: str | None = Field(default=None, description="full | deploy; default PLATFORM_CONTROL_RELEASE_MODE.")
    profile: str | None = Field(
        default=None, description="standard | web-fast; default PLATFORM_CONTROL_RELEASE_PROFILE."
    )
    skip_local_preflight: bool | None = Field(default=None, description="PLATFORM_CONTROL_SKIP_LOCAL_PREFLIGHT")
    require_local_preflight: bool | None = Field(default=None, description="PLATFORM_CONTROL_REQUIRE_LOCAL_PREFLIGHT")
    allow_divergence: bool | None = Field(
        default=None, description="PLATFORM_CONTROL_ALLOW_RELEASE_BRANCH_DIVERGENCE (incident override)"
    )
    preflight_scope: str | None = Field(
        default=None, description="Scoped frontend preflight (debugging override), e.g. a Playwright grep."
    )
    transient_retry_reason: str | None = Field(
        default=None,
        description="Why re-running a failed release SHA is safe (proven transient infrastructure).",
    )

    def to_request(self, *, dev_test: bool, policy: ReleasePolicyResource) -> PromotionRequest:
        def pick(value, default):
            return default if value is None else value

        return build_request(
            source_ref=pick(self.source_ref, policy.default_source_ref),
            mode=pick(self.mode, "deploy" if dev_test else policy.release_mode),
            profile=pick(self.profile, policy.release_profile),
            dev_test=dev_test,
            skip_local_preflight=pick(self.skip_local_preflight, policy.skip_local_preflight),
            require_local_preflight=pick(self.require_local_preflight, policy.require_local_preflight),
            allow_divergence=pick(self.allow_divergence, policy.allow_release_branch_divergence),
            preflight_scope=self.preflight_scope,
            transient_retry_reason=self.transient_retry_reason,
        )
