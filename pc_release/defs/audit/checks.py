"""Checks this domain adds to the promotion lineage.

web_fast_eligible: a blocking check on `source_commit`, so promote_release and dev_test_deploy stop before the
release branch is pushed when a web-fast promotion would ship anything outside the declared web-only paths.
dev_test_follow_up: on `release_pipeline`, so a dev-test deploy's run states the required path back to a release.
"""

import dagster as dg

from pc_release.defs.audit.reads import GitReads
from pc_release.defs.gates import asset_check_args
from pc_release.defs.promotion.refusal import refusals_as_failures
from pc_release.defs.verdicts import check_result
from pc_release.errors import ConfigurationError
from pc_release.models import ReleasePipeline, SourceCommit, Verdict
from pc_release.policy.audit import DEV_TEST, dev_test_deployed
from pc_release.policy.web_fast import RULE, web_fast_eligible
from pc_release.resources.git import GitResource


def web_fast_verdict(source: SourceCommit, reads: GitReads, changed_paths: list[str] | None = None) -> Verdict:
    """Judge a resolved promotion; `changed_paths` spares the diff when the caller already has it."""
    request = source.request
    if request.profile != "web-fast":
        return web_fast_eligible(
            profile=request.profile,
            released_sha=source.previous_release_sha,
            candidate_sha=source.sha,
            changed_paths=[],
            web_only_paths=[],
        )
    try:
        config, origin = reads.release_config(source.sha)
    except ConfigurationError as err:
        return Verdict(
            rule=RULE,
            ok=False,
            reason=f"web-fast refused: the release config at {source.sha[:12]} cannot be read, so its web-only "
            f"paths are unknown: {err.detail}",
        )
    if changed_paths is None and source.previous_release_sha is not None:
        changed_paths = reads.clone.changed_paths(source.previous_release_sha, source.sha)
    verdict = web_fast_eligible(
        profile=request.profile,
        released_sha=source.previous_release_sha,
        candidate_sha=source.sha,
        changed_paths=changed_paths or [],
        web_only_paths=config.web_only_paths,
    )
    return verdict.model_copy(update={"evidence": {**verdict.evidence, "release_config": origin}})


@dg.asset_check(**asset_check_args(RULE))
@refusals_as_failures
def web_fast_eligible_check(
    context: dg.AssetCheckExecutionContext, source_commit: SourceCommit, git: GitResource
) -> dg.AssetCheckResult:
    return check_result(web_fast_verdict(source_commit, GitReads(git.clone())), "source_commit")


@dg.asset_check(**asset_check_args(DEV_TEST))
def dev_test_follow_up_check(release_pipeline: ReleasePipeline, git: GitResource) -> dg.AssetCheckResult:
    verdict = dev_test_deployed(
        release_pipeline.kind,
        release_pipeline.pipeline.sha,
        release_branch=git.release_branch,
        master_branch=git.master_branch,
        remote=git.remote,
    )
    return check_result(verdict, "release_pipeline")
