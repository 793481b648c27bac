"""master_ci_sensor: request one promote_release run per green master head SHA (auto-promotion, off by default).

It starts stopped unless PC_RELEASE_AUTO_PROMOTION=true when the code location is built, so the UI never shows a
running sensor that promotes nothing; started by hand while auto-promotion is off, each tick says why it skips.

An idle tick costs one `git ls-remote` and at most one GitLab request (the newest master pipeline for exactly
the head SHA), whatever the length of master's history or of its pipeline list.
"""

import json

import dagster as dg

from pc_release.defs.audit.reads import GitReads
from pc_release.resources.git import GitResource
from pc_release.resources.gitlab import GitLabResource
from pc_release.resources.policy import ReleasePolicyResource

SENSOR = "master_ci_sensor"
PROMOTE_JOB = "promote_release"
TRIGGER_TAG = "pc-release/trigger"
SHA_TAG = "pc-release/source-sha"
PIPELINE_TAG = "pc-release/master-pipeline"


def run_key(sha: str) -> str:
    """One run per SHA, ever: Dagster drops a second request with the same key."""
    return f"{PROMOTE_JOB}:{sha}"


def _requested(cursor: str | None) -> str | None:
    return json.loads(cursor).get("requested_sha") if cursor else None


def supersede_pending(instance: dg.DagsterInstance, head: str) -> list[str]:
    """Cancel this sensor's queued promotions of older heads: a newer green head makes them stale."""
    queued = instance.get_runs(
        filters=dg.RunsFilter(job_name=PROMOTE_JOB, statuses=[dg.DagsterRunStatus.QUEUED], tags={TRIGGER_TAG: SENSOR})
    )
    superseded = []
    for run in queued:
        if run.tags.get(SHA_TAG) != head and instance.run_coordinator.cancel_run(run.run_id):
            superseded.append(run.run_id)
    return superseded


def _skip(context: dg.SensorEvaluationContext, reason: str) -> dg.SkipReason:
    context.log.info(reason)
    return dg.SkipReason(reason)


def _tick(context: dg.SensorEvaluationContext, git: GitResource, gitlab: GitLabResource, policy: ReleasePolicyResource):
    if not policy.auto_promotion:
        return _skip(context, "auto-promotion is off; PC_RELEASE_AUTO_PROMOTION=true turns it on")
    head, release = GitReads(git.clone()).remote_heads()
    if head is None:
        return _skip(context, f"{git.master_branch} does not exist on {git.remote}")
    if head == release:
        # A queued promotion of an older head would now move the release branch backwards.
        superseded = supersede_pending(context.instance, head)
        return _skip(
            context,
            f"{git.release_branch} already points at {git.master_branch} head {head}"
            + (f"; canceled stale queued promotions {', '.join(superseded)}" if superseded else ""),
        )
    if head == _requested(context.cursor):
        return _skip(context, f"promotion of {git.master_branch} head {head} already requested")
    pipeline = gitlab.master_pipeline_for(head)
    if pipeline is None:
        return _skip(context, f"no {git.master_branch} pipeline for head {head} yet")
    if pipeline.status != "success":
        return _skip(context, f"{git.master_branch} pipeline {pipeline.id} for head {head} is {pipeline.status}")
    superseded = supersede_pending(context.instance, head)
    if superseded:
        context.log.info(f"superseded queued promotions {', '.join(superseded)} by green head {head}")
    request = dg.RunRequest(
        run_key=run_key(head),
        run_config={"ops": {"source_commit": {"config": {"source_ref": head}}}},
        tags={TRIGGER_TAG: SENSOR, SHA_TAG: head, PIPELINE_TAG: str(pipeline.id)},
    )
    context.log.info(f"{git.master_branch} pipeline {pipeline.id} is green on head {head}: requesting its promotion")
    return dg.SensorResult(run_requests=[request], cursor=json.dumps({"requested_sha": head}))


def master_ci_sensor_for(auto_promotion: bool, interval_seconds: int = 60) -> dg.SensorDefinition:
    """The sensor as the code location declares it: running from the start only when auto-promotion is on, ticking
    at most every `interval_seconds` (PC_RELEASE_MASTER_CI_SENSOR_INTERVAL_SECONDS)."""
    return dg.sensor(
        name=SENSOR,
        job_name=PROMOTE_JOB,
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING if auto_promotion else dg.DefaultSensorStatus.STOPPED,
        description="Promote the master head SHA once its master pipeline is green; does nothing unless "
        "PC_RELEASE_AUTO_PROMOTION=true.",
    )(_tick)
