"""Plain-text summaries of a promotion run, read back from the Dagster event log (what the UI shows too)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import dagster as dg

_RULE = re.compile(r"\[([a-z0-9_-]+)\] ")


@dataclass
class RunSummary:
    run_id: str
    success: bool
    lines: list[str] = field(default_factory=list)
    failed_rules: list[str] = field(default_factory=list)
    metadata: dict[str, dict[str, object]] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _value(entry: object) -> object:
    return getattr(entry, "value", entry)


def summarize_run(instance: dg.DagsterInstance, run_id: str) -> RunSummary:
    """One line per materialization, gate and failure, in the order they happened."""
    run = instance.get_run_by_id(run_id)
    success = run is not None and run.status == dg.DagsterRunStatus.SUCCESS
    summary = RunSummary(run_id=run_id, success=success)
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            mat = event.step_materialization_data.materialization
            name = mat.asset_key.to_user_string()
            meta = {k: _value(v) for k, v in mat.metadata.items()}
            summary.metadata[name] = meta
            shown = ", ".join(
                f"{k}={meta[k]}" for k in ("sha", "pipeline_id", "pipeline_url", "status", "pushed") if k in meta
            )
            summary.lines.append(f"  materialized {name}: {shown}")
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if evaluation.passed:
                state = "passed"
            elif evaluation.severity == dg.AssetCheckSeverity.WARN:
                state = "WARNING"
            else:
                state = "FAILED"
                summary.failed_rules.append(evaluation.check_name)
            summary.lines.append(f"  gate {evaluation.check_name}: {state}: {evaluation.description or ''}")
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            message = (error.cause.message if error and error.cause else error.message if error else "").strip()
            match = _RULE.search(message)
            if match:
                summary.failed_rules.append(match.group(1))
                message = message[match.start() :]
            if "blocking asset check" not in message:
                summary.lines.append(f"  step {event.step_key} failed: {message.splitlines()[0] if message else ''}")
    verdict = "promotion complete" if success else "promotion stopped; nothing after the failed gate ran"
    summary.lines.append(f"{verdict} (run {run_id})")
    return summary
