"""Plain-text summaries of a promotion run, read back from the Dagster event log (what the UI shows too)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

import dagster as dg

from pc_release.defs.verdicts import evaluation_status, plain_metadata, shown_as

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
            meta = plain_metadata(mat.metadata)
            summary.metadata[name] = meta
            shown = ", ".join(
                f"{k}={meta[k]}" for k in ("sha", "pipeline_id", "pipeline_url", "status", "pushed") if k in meta
            )
            summary.lines.append(f"  materialized {name}: {shown}")
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            status = evaluation_status(evaluation)
            state = shown_as(status).upper() if status in ("warning", "failed") else shown_as(status)
            if status == "failed":
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
    summary.lines += outcome_lines(summary, run)
    return summary


# Run config fields of a promotion and the `pc-release` flags that set them.
_FLAGS = {
    "mode": "--mode",
    "profile": "--profile",
    "preflight_scope": "--preflight-scope",
    "require_local_preflight": "--require-local-preflight",
    "skip_local_preflight": "--skip-local-preflight",
    "allow_divergence": "--allow-divergence",
    "transient_retry_reason": "--transient-retry",
}


def converge_command(run: dg.DagsterRun, sha: str) -> str:
    """The `pc-release` command that repeats this run's request for its exact SHA: a re-run of the same request
    skips the push if done, rewrites the candidate env and finds or creates its one pipeline."""
    config = run.run_config.get("ops", {}).get("source_commit", {}).get("config", {}) if run.run_config else {}
    words = ["pc-release", "dev-test-deploy" if run.job_name == "dev_test_deploy" else "promote", sha]
    for key, flag in _FLAGS.items():
        value = config.get(key)
        if value is True:
            words.append(flag)
        elif isinstance(value, str) and value:
            words += [flag, shlex.quote(value)]
    return " ".join(words)


def outcome_lines(summary: RunSummary, run: dg.DagsterRun | None) -> list[str]:
    """What the run did, from its own materializations: pushed or not, candidate written or not, pipeline created
    or not, and, when it stopped half way, the command that converges."""
    source = summary.metadata.get("source_commit", {})
    branch = summary.metadata.get("release_branch")
    candidate = summary.metadata.get("release_candidate")
    pipeline = summary.metadata.get("release_pipeline")
    sha = str(source.get("sha") or "")
    if branch is None:
        moved = "release branch not moved (nothing pushed)"
    elif branch.get("pushed"):
        moved = f"release branch moved to {branch.get('sha')} (pushed)"
    else:
        moved = f"release branch already at {branch.get('sha')} (nothing pushed)"
    written = f"candidate env written for {candidate.get('sha')}" if candidate else "candidate env not written"
    if pipeline is None:
        triggered = "no release pipeline created"
    else:
        verb = "created" if pipeline.get("created") else "found (earlier attempt of this request)"
        triggered = f"release pipeline {pipeline.get('pipeline_id')} {verb}: {pipeline.get('pipeline_url')}"
    facts = f"{moved}; {written}; {triggered}"
    if summary.success:
        return [f"promotion complete: {facts} (run {summary.run_id})"]
    lines = [f"promotion stopped: {facts} (run {summary.run_id})"]
    if branch is not None and pipeline is None and run is not None and sha:
        lines.append(f"the release branch is not deployed yet; to converge run: {converge_command(run, sha)}")
    return lines
