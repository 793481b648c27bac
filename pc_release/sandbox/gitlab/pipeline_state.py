"""GitLab's pipeline processing: job and pipeline statuses, how a stage's jobs add up, when a created job runs."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

STATUSES = (
    "created",
    "waiting_for_resource",
    "preparing",
    "pending",
    "running",
    "success",
    "failed",
    "canceling",
    "canceled",
    "skipped",
    "manual",
    "scheduled",
    "waiting_for_callback",
)
COMPLETED_STATUSES = frozenset({"success", "failed", "canceled", "skipped"})
CANCELABLE_STATUSES = frozenset(
    {"running", "waiting_for_resource", "preparing", "pending", "created", "scheduled", "waiting_for_callback"}
)
RETRYABLE_STATUSES = frozenset({"success", "failed", "canceled"})
# GitLab nests child pipelines at most two levels deep (Ci::CreateDownstreamPipelineService).
MAX_DESCENDANTS_DEPTH = 2


def composite_status(jobs: Iterable[Mapping[str, Any]]) -> str | None:
    """GitLab's Ci::Status::Composite: the status of a group of jobs (a stage, a pipeline, a job's needs).

    Allowed failures count as passed with warnings; optional manual jobs are ignored.
    """
    keys: set[str] = set()
    for job in jobs:
        status = job["status"]
        if job["allow_failure"] and status in ("failed", "canceled"):
            keys.add("success_with_warnings")
        elif job["allow_failure"] and status == "manual":
            keys.add("ignored")
        else:
            keys.add(status)
    if not keys:
        return None

    def only(*allowed: str) -> bool:
        return keys <= set(allowed)

    def some(*wanted: str) -> bool:
        return bool(keys & set(wanted))

    cascade: list[tuple[bool, str]] = [
        (only("skipped", "ignored"), "skipped"),
        (only("success", "skipped", "success_with_warnings", "ignored"), "success"),
        (only("created", "success_with_warnings", "ignored"), "created"),
        (only("preparing", "success_with_warnings", "ignored"), "preparing"),
        (only("canceled", "success", "skipped", "success_with_warnings", "ignored"), "canceled"),
        (only("pending", "created", "skipped", "success_with_warnings", "ignored"), "pending"),
        (some("running", "pending"), "running"),
        (some("waiting_for_callback"), "waiting_for_callback"),
        (some("waiting_for_resource"), "waiting_for_resource"),
        (some("manual"), "manual"),
        (some("scheduled"), "scheduled"),
        (some("preparing"), "preparing"),
        (some("created"), "running"),
        (some("canceling"), "canceling"),
    ]
    return next((status for matched, status in cascade if matched), "failed")


def checked_status(status: str) -> str:
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; GitLab statuses are {', '.join(STATUSES)}")
    return status


def set_job_status(job: dict[str, Any], status: str, failure_reason: str | None = None) -> None:
    now = time.time()
    job["status"] = status
    if status in ("created", "pending", "manual", "scheduled"):
        job["started_at"] = job["finished_at"] = None
        job["queued_at"] = now if status == "pending" else None
    elif status == "running":
        job["started_at"] = now
        job["finished_at"] = None
    elif status in COMPLETED_STATUSES:
        job["finished_at"] = now
        if status in ("success", "failed") and job["started_at"] is None:
            job["started_at"] = now
    job["failure_reason"] = (failure_reason or "script_failure") if status == "failed" else None


def next_status(job: Mapping[str, Any], jobs: list[dict[str, Any]]) -> str | None:
    """GitLab's atomic processing for one `created` job: wait, enqueue, or skip."""
    dag = job["needs"] is not None
    if dag:
        prior = [j for j in jobs if j["name"] in job["needs"]]
    else:
        prior = [j for j in jobs if j["stage_idx"] < job["stage_idx"]]
    state = composite_status(prior) or "success"
    if state not in COMPLETED_STATUSES:
        return None
    if dag and any(j["status"] == "skipped" for j in prior):
        state = "skipped"
    when = job["when"]
    if when in ("on_success", "manual"):
        passed = state == "success" or (state == "skipped" and not dag)
        if not passed:
            return "skipped"
        return "manual" if when == "manual" else "pending"
    if when == "on_failure":
        return "pending" if state == "failed" else "skipped"
    if when == "always":
        return "pending" if state != "canceled" else "skipped"
    return "skipped"


def process(pipeline: dict[str, Any], jobs: list[dict[str, Any]]) -> None:
    """Move every created job that may now run, then derive the pipeline's status from its latest jobs."""
    progressed = True
    while progressed:
        progressed = False
        for job in jobs:
            if job["status"] == "created":
                status = next_status(job, jobs)
                if status is not None:
                    set_job_status(job, status)
                    progressed = True
    set_pipeline_status(pipeline, composite_status(jobs) or "skipped", jobs)


def set_pipeline_status(pipeline: dict[str, Any], status: str, jobs: list[dict[str, Any]]) -> None:
    now = time.time()
    if status != pipeline["status"]:
        pipeline["status"] = status
        pipeline["updated_at"] = now
    started = [j["started_at"] for j in jobs if j["started_at"]]
    pipeline["started_at"] = min(started) if started else None
    if status in COMPLETED_STATUSES:
        pipeline["finished_at"] = pipeline["finished_at"] or now
    else:
        pipeline["finished_at"] = None


def trigger_spec(definition: Mapping[str, Any]) -> dict[str, Any] | None:
    """A job's `trigger:` (None for a job with a script): a child pipeline's `include`, or a multi-project
    pipeline's `project` (the short form `trigger: group/project` too), its `strategy` and `forward`."""
    trigger = definition.get("trigger")
    if trigger is None:
        return None
    if not isinstance(trigger, Mapping):
        trigger = {"project": str(trigger)}
    forward = trigger.get("forward") if isinstance(trigger.get("forward"), Mapping) else {}
    return {
        "include": trigger.get("include"),
        "project": trigger.get("project"),
        "branch": trigger.get("branch"),
        "strategy": trigger.get("strategy"),
        "forward_pipeline_variables": bool(forward.get("pipeline_variables", False)),
    }


def inherited_bridge_status(downstream_status: str) -> str | None:
    """A `strategy: depend` trigger job's status once its downstream pipeline has this one (Ci::Bridge
    #inherit_status_from_downstream!); None while the downstream pipeline has not finished."""
    return {"success": "success", "canceled": "canceled", "failed": "failed", "skipped": "failed"}.get(
        downstream_status
    )
