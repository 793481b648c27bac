"""The promotion lineage: source_commit -> master_ci -> local_preflight and release_readiness -> release_branch ->
release_candidate -> release_pipeline, each asset reading only the one before it (its value carries what came
earlier). Gates are blocking asset checks computed with the asset they guard."""

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from pc_release.defs.audit.reads import GitReads
from pc_release.defs.audit.records import recorded_dev_test
from pc_release.defs.gates import check_specs
from pc_release.defs.promotion.config import DEV_TEST_JOB, PromotionConfig
from pc_release.defs.promotion.divergence import keep_left_behind, kept_metadata
from pc_release.defs.promotion.guard import require_promotion_run
from pc_release.defs.promotion.history import BRANCH_BEFORE, previous_release
from pc_release.defs.promotion.refusal import refusals_as_failures
from pc_release.defs.promotion.run_tags import SHA_TAG, tag_promotion
from pc_release.defs.verdicts import check_result
from pc_release.errors import GitLabError, PromotionBlocked
from pc_release.models import (
    MasterCi,
    PipelineInfo,
    PreflightReport,
    ReleaseBranchUpdate,
    ReleaseCandidate,
    ReleasePipeline,
    SourceCommit,
    Verdict,
)
from pc_release.policy import promotion as rules
from pc_release.readiness.models import ReadinessReport
from pc_release.resources.files import ReleaseFilesResource
from pc_release.resources.git import GitClone, GitResource
from pc_release.resources.gitlab import REQUEST_ID_VARIABLE, GitLabResource
from pc_release.resources.policy import ReleasePolicyResource

GROUP = "promotion"
GATED_UPSTREAM = ("source_commit", "master_ci", "local_preflight", "release_readiness")


def _run_finished(instance: dg.DagsterInstance, run_id: str) -> bool:
    run = instance.get_run_by_id(run_id)
    return run is None or run.is_finished


def _fail_abandoned_run(context: dg.AssetExecutionContext, run_id: str) -> None:
    """A promotion killed outright never recorded its end; record it, or the UI and the run queue's single
    promotion slot would count it as in progress for ever."""
    run = context.instance.get_run_by_id(run_id)
    if run is not None and not run.is_finished:
        context.instance.report_run_failed(
            run, f"its process is gone (killed); run {context.run.run_id} took over the promotion lock"
        )
    context.log.warning(f"run {run_id} died holding the promotion lock; this run took it over")


@dg.asset(
    group_name=GROUP,
    kinds={"git"},
    check_specs=check_specs("source_commit"),
)
@refusals_as_failures
def source_commit(
    context: dg.AssetExecutionContext,
    config: PromotionConfig,
    git: GitResource,
    release_files: ReleaseFilesResource,
    policy: ReleasePolicyResource,
):
    """Resolve the requested ref to one exact SHA and judge it against master."""
    dev_test = context.job_def.name == DEV_TEST_JOB
    request = config.to_request(dev_test=dev_test, policy=policy)
    operator = tag_promotion(context, request, sha=None)
    abandoned = release_files.acquire_promotion_lock(
        context.run.run_id, request.source_ref, lambda run_id: _run_finished(context.instance, run_id)
    )
    if abandoned:
        _fail_abandoned_run(context, abandoned)
    clone = git.clone()
    if dev_test:
        verdict = rules.dev_test_clean_tree(clone.dirty_paths())
        if not verdict.ok:
            raise PromotionBlocked(verdict.reason, rule=verdict.rule, evidence=verdict.evidence)
    clone.fetch()
    sha = clone.resolve(request.source_ref)
    context.instance.add_run_tags(context.run.run_id, {SHA_TAG: sha})
    # A broken .pc-release.yaml at the SHA is refused once, here, not by each of the sibling gates that read it.
    GitReads(clone).release_config(sha)
    release_sha = clone.remote_release_sha()
    release_only = clone.commits_not_on_master(release_sha) if release_sha else []
    previous = previous_release(context.instance, release_files, sha, release_sha)
    source = SourceCommit(
        request=request,
        sha=sha,
        commit=clone.commit_info(sha),
        on_master=clone.is_on_master(sha),
        master_sha=clone.master_sha(),
        release_sha=release_sha,
        previous_release_sha=previous.sha,
        previous_release_source=previous.source,
        release_only_commits=release_only,
    )
    reachable = rules.reachable_from_master(sha, source.on_master, request)
    dev_test_tip = recorded_dev_test(context.instance, release_files, release_sha)
    guard = rules.release_branch_divergence(release_only, request, git.release_branch, dev_test_tip)
    context.log.info(f"{request.source_ref} resolves to {sha} ({source.commit.subject}); {reachable.reason}")
    return dg.MaterializeResult(
        value=source,
        metadata={
            "sha": sha,
            "source_ref": request.source_ref,
            "kind": request.kind,
            "mode": request.mode,
            "profile": request.profile,
            "operator": operator,
            "subject": source.commit.subject,
            "author": source.commit.author,
            "on_master": source.on_master,
            "master_sha": source.master_sha,
            "previous_release_sha": previous.sha or "(none)",
            "previous_release_source": previous.source,
            BRANCH_BEFORE: release_sha or "(absent)",
        },
        check_results=[check_result(reachable, "source_commit"), check_result(guard, "source_commit")],
    )


def token_gate(gitlab: GitLabResource) -> Verdict:
    """gitlab_can_trigger_release_pipeline on what GitLab says now (two reads: project permissions, release branch);
    the promotion and its dry-run plan judge the token the same way."""
    return rules.gitlab_can_trigger_release_pipeline(gitlab.access_level(), gitlab.branch_access(gitlab.release_branch))


@dg.asset(
    group_name=GROUP,
    kinds={"gitlab"},
    check_specs=check_specs("master_ci"),
)
@refusals_as_failures
def master_ci(context: dg.AssetExecutionContext, source_commit: SourceCommit, gitlab: GitLabResource):
    """The master pipeline that ran on exactly the promoted SHA."""
    can_trigger = token_gate(gitlab)
    pipeline = gitlab.master_pipeline_for(source_commit.sha)
    verdict = rules.master_ci_green_on_exact_sha(
        source_commit.sha, pipeline, gitlab.master_branch, source_commit.request
    )
    context.log.info(verdict.reason)
    metadata: dict[str, dg.RawMetadataValue] = {"sha": source_commit.sha, "status": "missing"}
    if pipeline is not None:
        metadata |= {
            "pipeline_id": pipeline.id,
            "pipeline_url": dg.MetadataValue.url(pipeline.web_url),
            "status": pipeline.status,
        }
    return dg.MaterializeResult(
        value=MasterCi(sha=source_commit.sha, pipeline=pipeline, verdict=verdict, source=source_commit),
        metadata=metadata,
        check_results=[check_result(verdict, "master_ci"), check_result(can_trigger, "master_ci")],
    )


def promoted(update: ReleaseBranchUpdate) -> tuple[SourceCommit, MasterCi, PreflightReport]:
    """The source, primary gate and preflight a push was made for, as the lineage carried them to it (a promotion
    run sets them; only records built outside one lack them)."""
    preflight = update.preflight
    assert preflight is not None and preflight.master_ci is not None, "a push always follows the preflight"
    return preflight.master_ci.source, preflight.master_ci, preflight


@dg.asset(group_name=GROUP, kinds={"git"})
@refusals_as_failures
def release_branch(
    context: dg.AssetExecutionContext,
    local_preflight: PreflightReport,
    release_readiness: ReadinessReport,
    git: GitResource,
    gitlab: GitLabResource,
    release_files: ReleaseFilesResource,
):
    """release/platform-control, moved to the exact SHA with a lease on the value read at source_commit, once both
    the local preflight and the release readiness checks let it."""
    assert local_preflight.master_ci is not None, "the preflight always follows the primary gate"
    source_commit = local_preflight.master_ci.source
    require_promotion_run(context, source_commit.sha, GATED_UPSTREAM)
    clone = git.clone()
    confirm_remote_is_gitlab_project(clone, gitlab)
    kept = keep_left_behind(clone, source_commit, context.log)
    before_push = gitlab.newest_pipeline_id(gitlab.release_branch)
    pushed = clone.push_release(source_commit.sha, expected=source_commit.release_sha)
    confirm_gitlab_branch_at(gitlab, release_files, source_commit.sha)
    update = ReleaseBranchUpdate(
        branch=git.release_branch,
        sha=source_commit.sha,
        previous_sha=source_commit.release_sha,
        pushed=pushed,
        kept=kept,
        pipelines_before_push=before_push if pushed else 0,
        preflight=local_preflight,
    )
    if pushed:
        context.log.info(f"{git.release_branch}: {source_commit.release_sha or '(absent)'} -> {source_commit.sha}")
    else:
        context.log.info(f"{git.release_branch} already at {source_commit.sha}; nothing pushed")
    return dg.MaterializeResult(
        value=update,
        metadata={
            "sha": update.sha,
            "previous_release_sha": update.previous_sha or "(none)",
            "pushed": pushed,
            "kind": source_commit.request.kind,
            "local_preflight": local_preflight.status,
            "readiness_sha": release_readiness.sha,
            **kept_metadata(kept),
        },
    )


def withdraw_candidate(release_files: ReleaseFilesResource) -> None:
    """Remove the candidate env: it must never name a SHA the release branch is not at."""
    Path(release_files.candidate_path).unlink(missing_ok=True)


def confirm_remote_is_gitlab_project(clone: GitClone, gitlab: GitLabResource) -> None:
    """The clone's remote is the configured GitLab project, so the push moves the branch GitLab deploys from."""
    verdict = rules.remote_is_gitlab_project(clone.remote, clone.remote_urls(), *gitlab.repository_urls())
    if not verdict.ok:
        raise PromotionBlocked(verdict.reason, rule=verdict.rule, evidence=verdict.evidence)


def confirm_gitlab_branch_at(gitlab: GitLabResource, release_files: ReleaseFilesResource, sha: str) -> None:
    """GitLab's own release branch, read through its branches API, is at `sha`; else the promotion stops here."""
    verdict = rules.gitlab_branch_at_pushed_sha(gitlab.release_branch, sha, gitlab.branch_sha(gitlab.release_branch))
    if not verdict.ok:
        withdraw_candidate(release_files)
        raise PromotionBlocked(verdict.reason, rule=verdict.rule, evidence=verdict.evidence)


def candidate_values(source: SourceCommit, master: MasterCi, preflight: PreflightReport, run_id: str) -> dict[str, str]:
    request = source.request
    pipeline = master.pipeline
    return {
        "PLATFORM_CONTROL_RELEASE_SHA": source.sha,
        "PLATFORM_CONTROL_SOURCE_REF": request.source_ref,
        "PLATFORM_CONTROL_RELEASE_KIND": request.kind,
        "PLATFORM_CONTROL_RELEASE_MODE": request.mode,
        "PLATFORM_CONTROL_RELEASE_PROFILE": request.profile,
        "PLATFORM_CONTROL_CANDIDATE_CREATED_AT": datetime.now(UTC).isoformat(timespec="seconds"),
        "PLATFORM_CONTROL_LOCAL_PREFLIGHT": preflight.status,
        "PLATFORM_CONTROL_LOCAL_PREFLIGHT_REASON": preflight.reason,
        "PLATFORM_CONTROL_ALLOW_RELEASE_BRANCH_DIVERGENCE": str(request.allow_divergence).lower(),
        "PLATFORM_CONTROL_DEV_TEST_DEPLOY": str(request.dev_test).lower(),
        "PLATFORM_CONTROL_MASTER_PIPELINE_URL": pipeline.web_url if pipeline else "none",
        "PLATFORM_CONTROL_MASTER_PIPELINE_STATUS": pipeline.status if pipeline else "missing",
        "PLATFORM_CONTROL_PREVIOUS_RELEASE_SHA": source.previous_release_sha or "none",
        "PC_RELEASE_RUN_ID": run_id,
    }


@dg.asset(
    group_name=GROUP,
    kinds={"file"},
    check_specs=check_specs("release_candidate"),
)
@refusals_as_failures
def release_candidate(
    context: dg.AssetExecutionContext,
    release_branch: ReleaseBranchUpdate,
    git: GitResource,
    release_files: ReleaseFilesResource,
):
    """dist/platform-control-release-candidate.env, generated from the promoted SHA."""
    source_commit, master_ci, local_preflight = promoted(release_branch)
    require_promotion_run(context, source_commit.sha, (*GATED_UPSTREAM, "release_branch"))
    candidate = release_files.write_candidate(
        candidate_values(source_commit, master_ci, local_preflight, context.run.run_id)
    )
    on_disk = (release_files.read_candidate() or {}).get("PLATFORM_CONTROL_RELEASE_SHA")
    remote = git.clone().remote_release_sha()
    verdict = rules.candidate_matches_release_branch(
        on_disk, remote, source_commit.sha, release_branch.sha, git.release_branch
    )
    if not verdict.ok:
        withdraw_candidate(release_files)
    return dg.MaterializeResult(
        value=candidate.model_copy(update={"branch": release_branch}),
        metadata={
            "path": dg.MetadataValue.path(candidate.path),
            "sha": candidate.sha,
            "content_sha256": candidate.content_sha256,
            "candidate": dg.MetadataValue.md(
                "```\n" + "\n".join(f"{k}={v}" for k, v in candidate.values.items()) + "\n```"
            ),
        },
        check_results=[check_result(verdict, "release_candidate")],
    )


def request_id(source: SourceCommit) -> str:
    """Same promotion request -> same id, so a re-run finds its pipeline instead of creating a second one.

    Every pipeline variable is part of it: a pipeline run with other variables (an override flag) is another
    request's, and must never be taken for this one's."""
    request = source.request
    variables = rules.pipeline_variables(request, "")
    del variables[REQUEST_ID_VARIABLE]
    key = {"sha": source.sha, "kind": request.kind, "retry": request.transient_retry_reason, "variables": variables}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]


def trigger_release_pipeline(
    gitlab: GitLabResource, release_files: ReleaseFilesResource, update: ReleaseBranchUpdate, variables: dict[str, str]
) -> tuple[PipelineInfo, bool]:
    """This request's pipeline on the release branch: a re-run reuses the one an earlier attempt created while
    it is still the branch's last deploy and newer than this run's push; otherwise one is created. Should GitLab
    start it on a SHA we did not promote (someone pushed meanwhile), it is canceled and the candidate env
    withdrawn."""
    try:
        return gitlab.create_release_pipeline(update.sha, variables, pipelines_before_push=update.pipelines_before_push)
    except GitLabError as err:
        if err.rule == "release-branch-lease":
            withdraw_candidate(release_files)
        raise


@dg.asset(group_name=GROUP, kinds={"gitlab"})
@refusals_as_failures
def release_pipeline(
    context: dg.AssetExecutionContext,
    release_candidate: ReleaseCandidate,
    gitlab: GitLabResource,
    release_files: ReleaseFilesResource,
):
    """The GitLab pipeline on the release branch that deploys the candidate."""
    release_branch = release_candidate.branch
    assert release_branch is not None, "a candidate is always written for a push"
    source_commit, _, _ = promoted(release_branch)
    require_promotion_run(context, source_commit.sha, (*GATED_UPSTREAM, "release_branch", "release_candidate"))
    rid = request_id(source_commit)
    variables = rules.pipeline_variables(source_commit.request, rid)
    pipeline, created = trigger_release_pipeline(gitlab, release_files, release_branch, variables)
    release_files.release_promotion_lock(context.run.run_id)
    verb = "created" if created else "found (earlier attempt of this request)"
    context.log.info(f"release pipeline {pipeline.id} {verb}: {pipeline.web_url}")
    return dg.MaterializeResult(
        value=ReleasePipeline(
            pipeline=pipeline,
            variables=variables,
            request_id=rid,
            created=created,
            kind=source_commit.request.kind,
        ),
        metadata={
            "sha": source_commit.sha,
            "pipeline_id": pipeline.id,
            "pipeline_url": dg.MetadataValue.url(pipeline.web_url),
            "status": pipeline.status,
            "variables": dg.MetadataValue.json(variables),
            REQUEST_ID_VARIABLE: rid,
            "created": created,
            "kind": source_commit.request.kind,
            "candidate_sha256": release_candidate.content_sha256,
        },
    )
