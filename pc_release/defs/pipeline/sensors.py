"""release_pipeline_sensor: follows every in-flight release pipeline stage by stage and ends each in one record.

Stages are reported as asset events of the sensor itself rather than as runs: GitLab already did the work, so
a run per stage would only launch a process to copy what the sensor has just read. Progress lives in the
cursor (per pipeline: which stage outcomes were reported, which digests were read); the instance is consulted
when a pipeline is first seen, so a lost cursor or an interrupted tick never reports a stage or record twice.

Cost per tick: one event-log query for new `release_pipeline` materializations; then, per in-flight pipeline,
two GitLab requests (the pipeline, its jobs) plus one per publish job whose digest artifact is not read yet.
Nothing in flight: no GitLab request at all.
"""

import dagster as dg
from pydantic import BaseModel, Field

from pc_release.defs.pipeline import events
from pc_release.defs.pipeline.assets import PIPELINE_ASSETS, STAGE_ASSETS
from pc_release.defs.pipeline.cluster import NOT_CONFIGURED, ReleaseClusterResource
from pc_release.defs.pipeline.history import history_row, record_event, recorded_releases, release_history
from pc_release.defs.pipeline.partitions import runtime_partitions
from pc_release.defs.pipeline.record import (
    RECORD_FILE,
    ReleaseRecord,
    build_record,
    promotion_evidence,
    record_notes,
    record_tables,
    render_headline,
)
from pc_release.defs.pipeline.watch import (
    Observation,
    WatchedPipeline,
    final_verdict,
    observe,
    read_new_digests,
    stage_verdicts,
)
from pc_release.defs.verdicts import check_evaluation, plain_metadata
from pc_release.errors import GitLabError
from pc_release.policy.pipeline.record import is_release, outcome_words
from pc_release.policy.pipeline.stages import StageOutcome
from pc_release.resources.files import ReleaseFilesResource
from pc_release.resources.git import GitResource
from pc_release.resources.gitlab import GitLabResource

RELEASE_PIPELINE = dg.AssetKey("release_pipeline")
# A fresh cursor looks this far back for pipelines that may still lack their record.
COLD_START_WINDOW = 20
# How many recorded pipeline ids the cursor remembers (re-runs of an old promotion re-materialize its pipeline).
RECORDED_MEMORY = 200
PAGE = 100


class SensorCursor(BaseModel):
    """The sensor's progress: the last release_pipeline event seen, pipelines in flight, pipelines recorded."""

    after_storage_id: int | None = None
    pipelines: dict[int, WatchedPipeline] = Field(default_factory=dict)
    recorded: list[int] = Field(default_factory=list)

    @classmethod
    def load(cls, raw: str | None) -> "SensorCursor":
        return cls.model_validate_json(raw) if raw else cls()

    def dump(self) -> str:
        return self.model_dump_json()

    def mark_recorded(self, pipeline_id: int) -> None:
        self.pipelines.pop(pipeline_id, None)
        self.recorded = [*[p for p in self.recorded if p != pipeline_id], pipeline_id][-RECORDED_MEMORY:]


def _metadata(record: dg.EventLogRecord) -> dict:
    materialization = record.asset_materialization
    if materialization is None:
        return {}
    return plain_metadata(materialization.metadata)


def _new_release_pipelines(instance: dg.DagsterInstance, cursor: SensorCursor) -> list[dg.EventLogRecord]:
    """release_pipeline materializations after the cursor, oldest first (a fresh cursor looks a window back)."""
    if cursor.after_storage_id is None:
        found = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=RELEASE_PIPELINE), COLD_START_WINDOW)
        return sorted(found.records, key=lambda r: r.storage_id)
    records: list[dg.EventLogRecord] = []
    page: str | None = None
    while True:
        found = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=RELEASE_PIPELINE, after_storage_id=cursor.after_storage_id),
            PAGE,
            cursor=page,
            ascending=True,
        )
        records += found.records
        if not found.has_more:
            return records
        page = found.cursor


def _latest_pipeline_ids(instance: dg.DagsterInstance, key: dg.AssetKey, limit: int) -> dict[int, dict]:
    found = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit)
    latest: dict[int, dict] = {}
    for record in found.records:
        metadata = _metadata(record)
        if "pipeline_id" in metadata:
            latest.setdefault(int(metadata["pipeline_id"]), metadata)
    return latest


def discover(instance: dg.DagsterInstance, cursor: SensorCursor) -> None:
    """Start following pipelines the promotion job created since the last tick (instance reads only)."""
    records = _new_release_pipelines(instance, cursor)
    if records:
        cursor.after_storage_id = max(r.storage_id for r in records)
    elif cursor.after_storage_id is None:
        cursor.after_storage_id = 0
    new: dict[int, WatchedPipeline] = {}
    for record in records:
        metadata = _metadata(record)
        if "pipeline_id" not in metadata or "sha" not in metadata:
            continue
        pipeline_id = int(metadata["pipeline_id"])
        if pipeline_id in cursor.pipelines or pipeline_id in cursor.recorded or pipeline_id in new:
            continue
        new[pipeline_id] = WatchedPipeline.from_release_pipeline(metadata, record.run_id)
    if not new:
        return
    recorded = {
        int(r.metadata["pipeline_id"])
        for r in recorded_releases(instance, RECORDED_MEMORY)
        if "pipeline_id" in r.metadata
    }
    for pipeline_id, watched in new.items():
        if pipeline_id in recorded:
            cursor.mark_recorded(pipeline_id)
            continue
        for stage in STAGE_ASSETS:
            reported = _latest_pipeline_ids(instance, stage.key, 1).get(pipeline_id)
            if reported and "job_states" in reported:
                watched.emitted[stage.key.to_user_string()] = str(reported["job_states"])
        cursor.pipelines[pipeline_id] = watched


def stage_events(
    observation: Observation, cluster: ReleaseClusterResource, gitlab: GitLabResource
) -> list[dg.AssetMaterialization | dg.AssetCheckEvaluation]:
    """Events for every stage that settled since the last report, in pipeline order.

    A stage is reported once per outcome: a job retried while the pipeline runs changes the outcome and the
    stage is reported again; a later stage is never reported before an earlier one has settled.
    """
    watched = observation.watched
    out: list[dg.AssetMaterialization | dg.AssetCheckEvaluation] = []
    for stage in observation.stages:
        if not stage.settled:
            break
        signature = stage.signature()
        if watched.emitted.get(stage.stage) != signature:
            watched.emitted[stage.stage] = signature
            if stage.ran:
                out.append(events.stage_materialization(observation, stage, failed_job_logs(stage, gitlab)))
            out += [check_evaluation(v, stage.stage) for v in stage_verdicts(observation, stage.stage)]
            if stage.stage == "remote_validation" and stage.ran and cluster.configured:
                watched.conformance = cluster.conformance(observation.digests(), observation.config)
                out.append(check_evaluation(watched.conformance, stage.stage))
        if stage.stage == "package" and stage.ran:
            out += _digest_events(observation)
    return out


def failed_job_logs(stage: StageOutcome, gitlab: GitLabResource) -> dict[str, str]:
    """The end of each failed job's log (allowed failures aside), read once when the failed stage is reported."""
    logs = {}
    for job in stage.jobs:
        if job.state == "failed":
            try:
                logs[job.name] = gitlab.job_trace_tail(job.id)
            except GitLabError as err:
                logs[job.name] = f"(log unavailable: {err})"
    return logs


def _digest_events(observation: Observation) -> list[dg.AssetMaterialization | dg.AssetCheckEvaluation]:
    watched = observation.watched
    out: list[dg.AssetMaterialization | dg.AssetCheckEvaluation] = []
    for runtime in observation.plan.expected:
        job = observation.publish_job(runtime)
        if job is None or not job.ran:
            continue
        key, signature = events.digest_key(runtime), events.digest_signature(observation, runtime, job)
        if watched.emitted.get(key) != signature:
            watched.emitted[key] = signature
            out.append(events.digest_materialization(observation, runtime, job))
    return out


def record_events(
    context: dg.SensorEvaluationContext,
    observation: Observation,
    release_files: ReleaseFilesResource,
    cluster: ReleaseClusterResource,
) -> list[dg.AssetMaterialization | dg.AssetObservation | dg.AssetCheckEvaluation]:
    """The pipeline's one release record: JSON beside the candidate env; in the UI a short Markdown headline and
    tables of its gates, stages, runtimes and checklist."""
    note = NOT_CONFIGURED if not cluster.configured else "not checked: remote validation did not run"
    record = build_record(
        observation,
        promotion_evidence(context.instance, observation.watched.run_id),
        conformance_note=note,
    )
    path = release_files.write_json(
        RECORD_FILE.format(pipeline_id=observation.pipeline.id), record.model_dump(mode="json")
    )
    final = final_verdict(observation)
    summary = {
        "outcome": record.status,
        "status": record.status,
        "source_ref": record.source_ref or "",
        "operator": record.operator or "(not recorded)",
    }
    if record.promotion_run_id:
        summary["promotion_run"] = dg.MetadataValue.dagster_run(record.promotion_run_id)
    row = history_row(record.model_dump(mode="json") | {"outcome": record.status}, record.recorded_at)
    lists = {
        name: dg.MetadataValue.json(items)
        for name, items in (("downstream_pipelines", record.downstream_pipelines), ("notes", record_notes(record)))
        if items
    }
    event = record_event(
        record.status,
        record_description(record),
        summary
        | events.pipeline_metadata(observation)
        | {
            "path": dg.MetadataValue.path(str(path)),
            "record": dg.MetadataValue.md(render_headline(record)),
        }
        | record_tables(record)
        | {
            "history": release_history(context.instance, row),
            "digests": dg.MetadataValue.json({r.runtime: r.digest for r in record.runtimes if r.digest}),
            "not_run_by_profile": dg.MetadataValue.json(record.not_run_by_profile),
        }
        | lists,
    )
    return [event, check_evaluation(final, "release_record")]


def record_description(record: ReleaseRecord) -> str:
    """The event's one line: the outcome first, in capitals unless released, so a failure never reads as success."""
    outcome = outcome_words(record.status, is_release(record.status))
    run = f"promotion run {record.promotion_run_id}" if record.promotion_run_id else "no promotion run recorded"
    return (
        f"{outcome}: {record.kind} of {record.sha} (mode {record.mode}, profile {record.profile}) by "
        f"{record.operator or 'an unrecorded operator'}; pipeline {record.pipeline_url} ended "
        f"{record.pipeline_status}; {run}"
    )


def _tick(
    context: dg.SensorEvaluationContext,
    gitlab: GitLabResource,
    git: GitResource,
    release_files: ReleaseFilesResource,
    release_cluster: ReleaseClusterResource,
):
    cursor = SensorCursor.load(context.cursor)
    discover(context.instance, cursor)
    if not cursor.pipelines:
        return dg.SensorResult(skip_reason="no release pipeline in flight", cursor=cursor.dump())
    clone = git.clone()
    asset_events: list[dg.AssetMaterialization | dg.AssetObservation | dg.AssetCheckEvaluation] = []
    runtimes: set[str] = set()
    for watched in list(cursor.pipelines.values()):
        try:
            observation = observe(watched, gitlab, clone)
            read_new_digests(observation, gitlab)
        except GitLabError as err:
            if err.rule == "gitlab-not-found":
                context.log.warning(f"release pipeline {watched.pipeline_id} no longer exists in GitLab: unfollowed")
                cursor.pipelines.pop(watched.pipeline_id)
                continue
            if err.rule == "gitlab-transient":
                context.log.warning(f"pipeline {watched.pipeline_id}: {err}; trying again next tick")
                continue
            raise
        if not watched.partitions_requested:
            runtimes.update(observation.runtimes)
            watched.partitions_requested = True
        asset_events += stage_events(observation, release_cluster, gitlab)
        if observation.terminal:
            asset_events += record_events(context, observation, release_files, release_cluster)
            cursor.mark_recorded(watched.pipeline_id)
            context.log.info(f"release pipeline {watched.pipeline_id} ended {observation.pipeline.status}: recorded")
    known = set(context.instance.get_dynamic_partitions(runtime_partitions.name)) if runtimes else set()
    missing = sorted(runtimes - known)
    return dg.SensorResult(
        asset_events=asset_events,
        dynamic_partitions_requests=[runtime_partitions.build_add_request(missing)] if missing else [],
        cursor=cursor.dump(),
    )


def release_pipeline_sensor_for(interval_seconds: int = 15) -> dg.SensorDefinition:
    """The sensor as the code location declares it, ticking at most every `interval_seconds`
    (PC_RELEASE_RELEASE_PIPELINE_SENSOR_INTERVAL_SECONDS)."""
    return dg.sensor(
        name="release_pipeline_sensor",
        # What it reports, so each stage asset names the sensor as its automation; it never requests a run of them.
        asset_selection=dg.AssetSelection.assets(*(spec.key for spec in PIPELINE_ASSETS)),
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Follows every in-flight release pipeline and reports each stage, runtime digest and the "
        "release record as it finishes. No GitLab request while nothing is in flight.",
    )(_tick)


# Its default interval, for code that ticks it by hand (tests, benchmarks); the code location builds its own.
release_pipeline_sensor = release_pipeline_sensor_for()
