"""Checks of the release pipeline domain.

`failed_sha_retry` is a blocking gate of every promotion: it runs on source_commit, before anything is pushed.
The stage checks are evaluated by release_pipeline_sensor as the pipeline runs; executing them from the UI
evaluates them again against GitLab for the pipeline the asset last reported.
"""

import dagster as dg

from pc_release.defs.gates import asset_check_args
from pc_release.defs.pipeline.cluster import NOT_CONFIGURED, ReleaseClusterResource
from pc_release.defs.pipeline.history import newest_report
from pc_release.defs.pipeline.watch import WatchedPipeline, final_verdict, observe, read_new_digests, stage_verdicts
from pc_release.defs.promotion.refusal import refusals_as_failures
from pc_release.defs.verdicts import check_result
from pc_release.errors import GitLabError
from pc_release.models import SourceCommit, Verdict
from pc_release.policy import promotion as promotion_rules
from pc_release.resources.git import GitResource
from pc_release.resources.gitlab import GitLabResource


@dg.asset_check(**asset_check_args(promotion_rules.FAILED_SHA_RETRY))
@refusals_as_failures
def failed_sha_retry(
    context: dg.AssetCheckExecutionContext, source_commit: SourceCommit, gitlab: GitLabResource
) -> dg.AssetCheckResult:
    """One GitLab request: the newest release-branch pipeline that ran this exact SHA."""
    last = gitlab.latest_pipelines(gitlab.release_branch, per_page=1, sha=source_commit.sha)
    verdict = promotion_rules.failed_sha_retry(source_commit.sha, last[0] if last else None, source_commit.request)
    return check_result(verdict, "source_commit")


STAGE_CHECKS: dict[str, tuple[tuple[str, str], ...]] = {
    "contracts": (("stage_passed", "OpenAPI/AsyncAPI contracts and the release branch guard passed."),),
    "build_test": (("stage_passed", "Backend, frontend, integration, SDK and security gates passed."),),
    "package": (
        ("stage_passed", "Every publish job passed."),
        (
            "runtimes_have_publish_jobs",
            "Every runtime of the runtime matrix has a matching publish job or an intentional filter.",
        ),
    ),
    "digest_fan_in": (
        ("stage_passed", "The digest fan-in passed."),
        (
            "runtime_digests_present",
            "Every published runtime reported a sha256: digest in its publish job's dotenv artifact.",
        ),
    ),
    "deployment": (("stage_passed", "Schema, seed, manifests, rollout and secret reconciliation passed."),),
    "remote_validation": (
        ("stage_passed", "Endpoints, observability, image conformance, smoke and disposable cleanup passed."),
        (
            "runtime_image_conformance",
            "With a release cluster configured: every runtime's pods run its fan-in digest and its rollout finished.",
        ),
    ),
    "release_record": (
        ("final_validation", "Final pipeline status success with deploy and remote validation passed."),
    ),
}
CHECK_SPECS = [
    dg.AssetCheckSpec(name, asset=asset, description=description)
    for asset, checks in STAGE_CHECKS.items()
    for name, description in checks
]


def _verdict(
    instance: dg.DagsterInstance,
    key: dg.AssetCheckKey,
    gitlab: GitLabResource,
    git: GitResource,
    cluster: ReleaseClusterResource,
) -> Verdict:
    asset = key.asset_key.to_user_string()
    latest = newest_report(instance, key.asset_key)
    meta = latest.metadata if latest else {}
    if "pipeline_id" not in meta:
        return Verdict(rule=key.name, status="not_evaluated", reason=f"{asset} has no reported pipeline to check")
    watched = WatchedPipeline(
        pipeline_id=int(meta["pipeline_id"]),
        sha=str(meta["sha"]),
        kind=str(meta.get("kind", "release")),
        mode=str(meta.get("mode", "full")),
        profile=str(meta.get("profile", "standard")),
    )
    try:
        observation = observe(watched, gitlab, git.clone())
        read_new_digests(observation, gitlab)
    except GitLabError as err:
        return Verdict(rule=key.name, ok=False, reason=f"pipeline {watched.pipeline_id}: {err}")
    if cluster.configured and observation.stage("remote_validation").ran:
        watched.conformance = cluster.conformance(observation.digests(), observation.config)
    if key.name == "runtime_image_conformance":
        return watched.conformance or Verdict(rule=key.name, status="warning", reason=NOT_CONFIGURED)
    if asset == "release_record":
        return final_verdict(observation)
    found = [v for v in stage_verdicts(observation, asset) if v.rule == key.name]
    if found:
        return found[0]
    status = observation.stage(asset).status
    return Verdict(rule=key.name, status="warning", reason=f"{asset} is {status}: nothing to check")


@dg.multi_asset_check(
    specs=CHECK_SPECS,
    can_subset=True,
    name="recheck_release_pipeline",
    description="Evaluate the stage checks again against GitLab, for the pipeline each asset last reported.",
)
def recheck_release_pipeline(
    context: dg.AssetCheckExecutionContext,
    gitlab: GitLabResource,
    git: GitResource,
    release_cluster: ReleaseClusterResource,
):
    for key in sorted(context.selected_asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        verdict = _verdict(context.instance, key, gitlab, git, release_cluster)
        yield check_result(verdict, key.asset_key.to_user_string())
