"""master_ci_sensor: request one promote_release run per green master head SHA (auto-promotion, off by default).

An idle tick costs one `git ls-remote` and at most one GitLab request (the newest master pipeline for exactly
the head SHA), whatever the length of master's history or of its pipeline list.
"""

import json

import dagster as dg

from pc_release.defs.audit.reads import GitReads
from pc_release.resources.git import GitResource
from pc_release.resources.gitlab import GitLabResource
from pc_release.settings import Settings

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


@dg.sensor(
    name=SENSOR,
    job_name=PROMOTE_JOB,
    minimum_interval_seconds=Settings().master_ci_sensor_interval_seconds,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Promote the master head SHA once its master pipeline is green; does nothing unless "
    "PC_RELEASE_AUTO_PROMOTION=true.",
)
def master_ci_sensor(context: dg.SensorEvaluationContext, git: GitResource, gitlab: GitLabResource):
    if not Settings().auto_promotion:
        return dg.SkipReason("auto-promotion is off; PC_RELEASE_AUTO_PROMOTION=true turns it on")
    head, release = GitReads(git.clone()).remote_heads()
    if head is None:
        return dg.SkipReason(f"{git.master_branch} does not exist on {git.remote}")
    if head == release:
        # A queued promotion of an older head would now move the release branch backwards.
        superseded = supersede_pending(context.instance, head)
        return dg.SkipReason(
            f"{git.release_branch} already points at {git.master_branch} head {head}"
            + (f"; canceled stale queued promotions {', '.join(superseded)}" if superseded else "")
        )
    if head == _requested(context.cursor):
        return dg.SkipReason(f"promotion of {git.master_branch} head {head} already requested")
    pipeline = gitlab.master_pipeline_for(head)
    if pipeline is None:
        return dg.SkipReason(f"no {git.master_branch} pipeline for head {head} yet")
    if pipeline.status != "success":
        return dg.SkipReason(f"{git.master_branch} pipeline {pipeline.id} for head {head} is {pipeline.status}")
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
