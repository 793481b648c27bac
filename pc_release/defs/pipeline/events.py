"""Dagster events for what release_pipeline_sensor observed: stage and runtime digest materializations with the
jobs, statuses, durations and GitLab URLs in metadata."""

from __future__ import annotations

import re
from typing import Any

import dagster as dg

from pc_release.defs.pipeline.watch import Observation
from pc_release.policy.pipeline import stages as stage_rules
from pc_release.policy.pipeline.record import outcome_words


def pipeline_metadata(observation: Observation) -> dict[str, Any]:
    """What every pipeline event carries, so each can be traced back to its pipeline and SHA."""
    watched, pipeline = observation.watched, observation.pipeline
    return {
        "pipeline_id": pipeline.id,
        "pipeline_url": dg.MetadataValue.url(pipeline.web_url),
        "pipeline_status": pipeline.status,
        "sha": watched.sha,
        "kind": watched.kind,
        "mode": watched.mode,
        "profile": watched.profile,
    }


def _jobs_table(rows: list[stage_rules.JobRow]) -> str:
    lines = ["| job | status | duration (s) | attempts | GitLab |", "|---|---|---|---|---|"]
    for row in rows:
        attempts = ", ".join([*row.earlier_attempts, f"#{row.id} {row.status}"])
        duration = "" if row.duration is None else f"{row.duration:.1f}"
        lines.append(f"| {row.name} | {row.status} | {duration} | {attempts} | [job {row.id}]({row.web_url}) |")
    return "\n".join(lines)


def _logs_markdown(logs: dict[str, str]) -> str:
    parts = []
    for name, tail in logs.items():
        fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", tail)), default=0))
        parts.append(f"**{name}** (last lines of its log)\n\n{fence}text\n{tail}\n{fence}")
    return "\n\n".join(parts)


def stage_materialization(
    observation: Observation, stage: stage_rules.StageOutcome, failed_job_logs: dict[str, str] | None = None
) -> dg.AssetMaterialization:
    metadata = pipeline_metadata(observation) | {
        "stage_status": stage.status,
        "job_states": stage.signature(),
        "jobs": dg.MetadataValue.md(_jobs_table(stage.jobs)),
        "job_statuses": dg.MetadataValue.json({row.name: row.status for row in stage.jobs}),
        "job_urls": dg.MetadataValue.json({row.name: row.web_url for row in stage.jobs}),
        "job_durations": dg.MetadataValue.json({row.name: row.duration for row in stage.jobs}),
    }
    if stage.duration is not None:
        metadata["duration_seconds"] = stage.duration
    if stage.started_at is not None:
        metadata["started_at"] = stage.started_at.isoformat()
    if stage.finished_at is not None:
        metadata["finished_at"] = stage.finished_at.isoformat()
    retried = [row.name for row in stage.jobs if row.earlier_attempts]
    if retried:
        metadata["retried_jobs"] = dg.MetadataValue.json(retried)
    if stage.not_run_by_profile:
        metadata[stage_rules.NOT_RUN_BY_PROFILE] = dg.MetadataValue.json(stage.not_run_by_profile)
    if stage.ran_outside_profile:
        metadata["ran_outside_profile"] = dg.MetadataValue.json(stage.ran_outside_profile)
    if stage.hints:
        metadata["hints"] = dg.MetadataValue.json(stage.hints)
    if failed_job_logs:
        metadata["failed_job_logs"] = dg.MetadataValue.md(_logs_markdown(failed_job_logs))
    if stage.stage == "digest_fan_in":
        metadata["digests"] = dg.MetadataValue.json(observation.digests())
    status = outcome_words(stage.status, stage.ok)
    return dg.AssetMaterialization(
        asset_key=stage.stage,
        description=f"{stage_rules.STAGE_TITLES[stage.stage]}: {status} in pipeline {observation.pipeline.id}",
        metadata=metadata,
    )


def digest_materialization(observation: Observation, runtime: str, job: stage_rules.JobRow) -> dg.AssetMaterialization:
    digest = observation.digests().get(runtime)
    metadata = pipeline_metadata(observation) | {
        "runtime": runtime,
        "digest": digest or "missing",
        "publish_job": job.name,
        "job_status": job.status,
        "job_url": dg.MetadataValue.url(job.web_url),
        "digest_variable": observation.config.digest_variable_for(runtime),
        "digest_artifact": observation.config.digest_artifact,
    }
    if job.duration is not None:
        metadata["duration_seconds"] = job.duration
    return dg.AssetMaterialization(
        asset_key="runtime_digest",
        partition=runtime,
        description=f"{runtime}: {digest or 'no digest'} from {job.name} ({job.status})",
        metadata=metadata,
    )


def digest_key(runtime: str) -> str:
    """The cursor key under which a runtime digest's last reported state is remembered."""
    return f"runtime_digest/{runtime}"


def digest_signature(observation: Observation, runtime: str, job: stage_rules.JobRow) -> str:
    return f"{job.id}:{job.status}:{observation.digests().get(runtime)}"
