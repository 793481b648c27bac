"""Run config of a promotion, as the Launchpad shows it: the mode and profile as choices, each flag in plain words,
and the defaults the policy's variables set filled in. A field left unset falls back to the policy resource's
defaults (its environment variables) when the request is built."""

from __future__ import annotations

import enum
from typing import Any

import dagster as dg
from pydantic import Field

from pc_release.models import PromotionRequest
from pc_release.policy.promotion import MODES, PROFILES, build_request
from pc_release.resources.policy import ReleasePolicyResource

PROMOTE_JOB = "promote_release"
DEV_TEST_JOB = "dev_test_deploy"
# dagster.yaml limits runs carrying this tag to one at a time: promotions are serialized by the queue.
PROMOTION_TAG = "pc-release/promotion"

# The policy's own words are the choices ("web-fast" included), so the Launchpad, the CLI and the pipeline
# variables spell them alike.
ReleaseModeChoice = enum.Enum("ReleaseModeChoice", [(mode, mode) for mode in MODES])
ReleaseProfileChoice = enum.Enum("ReleaseProfileChoice", [(profile, profile) for profile in PROFILES])


class PromotionConfig(dg.Config):
    source_ref: str | None = Field(
        default=None,
        description="What to promote: a branch, tag or full 40-digit SHA. Empty: the head of master on the remote "
        "(refs/remotes/origin/master).",
    )
    mode: ReleaseModeChoice | None = Field(
        default=None,
        description="full runs the whole release pipeline with the post-deploy security and runtime evidence (the "
        "policy's default); deploy skips that evidence on purpose. Sets PLATFORM_CONTROL_RELEASE_MODE.",
    )
    profile: ReleaseProfileChoice | None = Field(
        default=None,
        description="standard for every change; web-fast narrows the pipeline to contracts, frontend, the web "
        "runtime and a web smoke, and only a web-only change may use it. Sets PLATFORM_CONTROL_RELEASE_PROFILE.",
    )
    skip_local_preflight: bool | None = Field(
        default=None,
        description="Skip the local preflight (e2e, role authz smoke, kind parity) and record that it was skipped. "
        "PLATFORM_CONTROL_SKIP_LOCAL_PREFLIGHT.",
    )
    require_local_preflight: bool | None = Field(
        default=None,
        description="Make a real defect found by the local preflight stop the promotion (it is advisory by "
        "default). PLATFORM_CONTROL_REQUIRE_LOCAL_PREFLIGHT.",
    )
    allow_divergence: bool | None = Field(
        default=None,
        description="Incident response only: move the release branch although it holds commits master lacks (they "
        "are kept under refs/pc-release/diverged/). PLATFORM_CONTROL_ALLOW_RELEASE_BRANCH_DIVERGENCE.",
    )
    preflight_scope: str | None = Field(
        default=None,
        description="Debugging only: run just the frontend e2e tests matching this Playwright grep.",
    )
    transient_retry_reason: str | None = Field(
        default=None,
        description="Re-run a SHA whose release pipeline failed: say which infrastructure fault it was (the "
        "policy forbids retrying a failed SHA otherwise).",
    )

    def to_request(self, *, dev_test: bool, policy: ReleasePolicyResource) -> PromotionRequest:
        def pick(value, default):
            return default if value is None else getattr(value, "value", value)

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


def launchpad_defaults(policy: ReleasePolicyResource, *, dev_test: bool) -> dict[str, Any]:
    """The run config the Launchpad opens with: the defaults in force, the same policy values a run falls back to.

    A variable holding a value the policy does not know is left out, so the run refuses it by its rule instead of
    the code location failing to load."""
    config: dict[str, Any] = {}
    mode = "deploy" if dev_test else policy.release_mode
    if mode in MODES:
        config["mode"] = mode
    if policy.release_profile in PROFILES:
        config["profile"] = policy.release_profile
    config["require_local_preflight"] = policy.require_local_preflight
    if not dev_test:
        # The dev-test bypass skips the preflight unless required, and always allows the divergence.
        config["skip_local_preflight"] = policy.skip_local_preflight
        config["allow_divergence"] = policy.allow_release_branch_divergence
    return {"ops": {"source_commit": {"config": config}}}
