"""The release record: the handoff of one release pipeline, assembled from the promotion run's gates and the
pipeline's final observation, rendered as JSON (beside the candidate env) and as Markdown (in the UI)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from pydantic import BaseModel, Field

from pc_release.defs.pipeline.watch import Observation, pipeline_gate_verdicts
from pc_release.defs.verdicts import evaluation_status, plain_metadata, shown_as
from pc_release.policy.gates import GATES
from pc_release.policy.pipeline import gates as gate_rules
from pc_release.policy.pipeline import record as record_rules
from pc_release.policy.pipeline import stages as stage_rules
from pc_release.policy.preflight import PREFLIGHT_GATE
from pc_release.policy.promotion import FAILED_SHA_RETRY

RECORD_FILE = "platform-control-release-record-{pipeline_id}.json"
# Promotion gates in lineage order (the gate registry's); the record lists them first, as the operator met them.
PROMOTION_GATES = tuple(gate.name for gate in GATES)


class PromotionEvidence(BaseModel):
    """What the promotion run that triggered the pipeline recorded: its assets' metadata and its gates."""

    run_id: str | None = None
    metadata: dict[str, dict[str, Any]] = Field(default_factory=dict)
    gates: dict[str, record_rules.Gate] = Field(default_factory=dict)
    gate_metadata: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def value(self, asset: str, key: str, default: Any = None) -> Any:
        return self.metadata.get(asset, {}).get(key, default)


def promotion_evidence(instance: dg.DagsterInstance, run_id: str | None) -> PromotionEvidence:
    """Read the promotion run's materializations and check evaluations back from the event log."""
    evidence = PromotionEvidence(run_id=run_id)
    if not run_id:
        return evidence
    kinds = {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION}
    for entry in instance.all_logs(run_id, of_type=kinds):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.step_materialization_data.materialization
            evidence.metadata[materialization.asset_key.to_user_string()] = plain_metadata(materialization.metadata)
        else:
            check = event.event_specific_data
            evidence.gates[check.check_name] = record_rules.Gate(
                name=check.check_name, status=evaluation_status(check), description=check.description or ""
            )
            evidence.gate_metadata[check.check_name] = plain_metadata(check.metadata)
    return evidence


class GateRecord(BaseModel):
    name: str
    outcome: str
    detail: str


class JobRecord(BaseModel):
    name: str
    status: str
    duration_seconds: float | None
    url: str
    earlier_attempts: list[str] = Field(default_factory=list)


class StageRecord(BaseModel):
    stage: str
    title: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    jobs: list[JobRecord]
    not_run_by_profile: list[str]
    ran_outside_profile: list[str]
    hints: list[str]


class RuntimeRecord(BaseModel):
    runtime: str
    outcome: str
    digest: str | None = None
    publish_job: str | None = None
    job_status: str | None = None
    job_url: str | None = None


class ReleaseRecord(BaseModel):
    status: record_rules.RecordStatus
    kind: str
    sha: str
    source_ref: str | None
    mode: str
    profile: str
    pipeline_id: int
    pipeline_url: str
    pipeline_status: str
    promotion_run_id: str | None
    operator: str | None = None
    transient_retry_reason: str | None
    started_at: datetime | None
    finished_at: datetime | None
    recorded_at: datetime
    gates: list[GateRecord]
    stages: list[StageRecord]
    runtimes: list[RuntimeRecord]
    runtime_image_conformance: str
    not_run_by_profile: list[str]
    checklist: list[record_rules.ChecklistItem]
    downstream_pipelines: list[str] = Field(
        default_factory=list, description="Each trigger job's downstream pipeline: followed child, or not followed"
    )
    notes: list[str]


# A stage's status as a gate's outcome word: anything that is not a pass, a profile's choice, a skip or a cancel
# (failed, missing, still waiting at the end) reads "failed".
_STAGE_OUTCOMES = {
    "passed": "passed",
    "passed_with_warnings": "warning",
    "not_run_by_profile": stage_rules.NOT_RUN_BY_PROFILE,
    stage_rules.NOT_RUN_BY_PROFILE: stage_rules.NOT_RUN_BY_PROFILE,
    "skipped": "skipped",
    "canceled": "canceled",
}


def stage_outcome(status: str) -> str:
    """The word the record's gate and stage tables show for a stage status."""
    return _STAGE_OUTCOMES.get(status, "failed")


def _stage_gate(stage: stage_rules.StageOutcome) -> GateRecord:
    outcome = stage_outcome(stage.status)
    detail = gate_rules.stage_passed(stage).reason if outcome != "skipped" else "skipped after an earlier failure"
    return GateRecord(name=f"stage {stage.stage}", outcome=outcome, detail=detail)


def _runtimes(observation: Observation) -> list[RuntimeRecord]:
    plan, digests = observation.plan, observation.digests()
    rows = []
    for runtime in observation.runtimes:
        if runtime in plan.filtered:
            rows.append(RuntimeRecord(runtime=runtime, outcome=f"filtered: {plan.filtered[runtime]}"))
            continue
        if runtime in plan.not_run_by_profile:
            rows.append(RuntimeRecord(runtime=runtime, outcome=stage_rules.NOT_RUN_BY_PROFILE))
            continue
        job = observation.publish_job(runtime)
        digest = digests.get(runtime)
        if job is None:
            outcome = "no publish job"
        elif job.state == "passed" and digest and gate_rules.DIGEST.fullmatch(digest):
            outcome = "published"
        elif job.state == "passed":
            problem = observation.digest_problems().get(runtime)
            outcome = "published without a digest" + (f": {problem}" if problem else "")
        else:
            outcome = f"publish {job.status}"
        rows.append(
            RuntimeRecord(
                runtime=runtime,
                outcome=outcome,
                digest=digest,
                publish_job=job.name if job else observation.config.publish_job_for(runtime),
                job_status=job.status if job else None,
                job_url=job.web_url if job else None,
            )
        )
    return rows


def build_record(
    observation: Observation,
    evidence: PromotionEvidence,
    conformance_note: str,
) -> ReleaseRecord:
    """The record of a pipeline that reached a terminal status."""
    watched, pipeline, stages = observation.watched, observation.pipeline, observation.stages
    gates = []
    for name in PROMOTION_GATES:
        gate = evidence.gates.get(name)
        if gate is None:
            gates.append(GateRecord(name=name, outcome="not checked", detail="not evaluated by the promotion run"))
            continue
        detail = gate.description
        if name == PREFLIGHT_GATE:
            status = evidence.value("local_preflight", "status", "?")
            classes = evidence.value("local_preflight", "classifications")
            detail = f"local preflight {status}" + (f" (classification: {classes})" if classes else "") + f": {detail}"
        gates.append(GateRecord(name=name, outcome=shown_as(gate.status), detail=detail))
    extra_gates = sorted(set(evidence.gates) - set(PROMOTION_GATES))
    gates += [
        GateRecord(name=n, outcome=shown_as(evidence.gates[n].status), detail=evidence.gates[n].description)
        for n in extra_gates
    ]
    gates += [_stage_gate(stage) for stage in stages]
    pipeline_gates = pipeline_gate_verdicts(observation)
    gates += [GateRecord(name=v.rule, outcome=shown_as(v.status), detail=v.reason) for v in pipeline_gates]
    if watched.conformance is None:
        gates.append(GateRecord(name="runtime_image_conformance", outcome="not checked", detail=conformance_note))
    failed = [v.rule for v in pipeline_gates if not v.ok]
    final = record_rules.final_validation(watched.kind, pipeline, stages, failed, observation.downstream)
    gates.append(GateRecord(name=final.rule, outcome=shown_as(final.status), detail=final.reason))
    not_run = [f"runtime {r}" for r in observation.plan.not_run_by_profile]
    not_run += [item for stage in stages for item in stage.not_run_by_profile if not item.startswith("publish")]
    not_run += [f"stage {s.stage}" for s in stages if s.status == "not_run_by_profile"]
    preflight = {k: str(v) for k, v in evidence.metadata.get("local_preflight", {}).items() if v not in (None, "", {})}
    reason = evidence.gate_metadata.get(FAILED_SHA_RETRY, {}).get("transient_retry_reason")
    return ReleaseRecord(
        status=record_rules.record_status(watched.kind, pipeline.status, stages, failed, observation.downstream),
        kind=watched.kind,
        sha=watched.sha,
        source_ref=evidence.value("source_commit", "source_ref"),
        mode=watched.mode,
        profile=watched.profile,
        pipeline_id=pipeline.id,
        pipeline_url=pipeline.web_url,
        pipeline_status=pipeline.status,
        promotion_run_id=evidence.run_id,
        operator=evidence.value("source_commit", "operator"),
        transient_retry_reason=reason,
        started_at=min((s.started_at for s in stages if s.started_at), default=pipeline.created_at),
        finished_at=max((s.finished_at for s in stages if s.finished_at), default=pipeline.updated_at),
        recorded_at=datetime.now(UTC),
        gates=gates,
        stages=[
            StageRecord(
                stage=s.stage,
                title=stage_rules.STAGE_TITLES[s.stage],
                status=stage_rules.NOT_RUN_BY_PROFILE if s.status == "not_run_by_profile" else s.status,
                started_at=s.started_at,
                finished_at=s.finished_at,
                duration_seconds=s.duration,
                jobs=[
                    JobRecord(
                        name=j.name,
                        status=j.status,
                        duration_seconds=j.duration,
                        url=j.web_url,
                        earlier_attempts=j.earlier_attempts,
                    )
                    for j in s.jobs
                ],
                not_run_by_profile=s.not_run_by_profile,
                ran_outside_profile=s.ran_outside_profile,
                hints=s.hints,
            )
            for s in stages
        ],
        runtimes=_runtimes(observation),
        runtime_image_conformance=watched.conformance.reason if watched.conformance else conformance_note,
        not_run_by_profile=not_run,
        checklist=record_rules.operator_checklist(evidence.gates, preflight, stages),
        downstream_pipelines=[d.describe() for d in observation.downstream],
        notes=observation.notes,
    )


def render_markdown(record: ReleaseRecord) -> str:
    """The whole record as Markdown, as the demo prints it: headline, every gate, stage, runtime and checklist item."""
    lines = [
        f"## {record.status}: `{record.sha}`",
        "",
        f"- pipeline: [{record.pipeline_id}]({record.pipeline_url}) — {record.pipeline_status}",
        f"- kind: {record.kind}; mode: {record.mode}; profile: {record.profile}; source ref: {record.source_ref}",
        f"- started: {record.started_at}; finished: {record.finished_at}",
    ]
    if record.transient_retry_reason:
        lines.append(f"- retry of a failed SHA, stated transient: {record.transient_retry_reason}")
    if record.not_run_by_profile:
        lines.append(f"- {stage_rules.NOT_RUN_BY_PROFILE}: {', '.join(record.not_run_by_profile)}")
    lines += ["", "### Gates", "", "| gate | outcome | detail |", "|---|---|---|"]
    lines += [f"| {g.name} | {g.outcome} | {_cell(g.detail)} |" for g in record.gates]
    lines += ["", "### Stages", "", "| stage | status | jobs | hints |", "|---|---|---|---|"]
    for stage in record.stages:
        jobs = ", ".join(f"[{j.name}]({j.url}) {j.status}" for j in stage.jobs) or "—"
        lines.append(f"| {stage.stage} | {stage.status} | {_cell(jobs)} | {_cell(' '.join(stage.hints))} |")
    lines += ["", "### Runtimes", "", "| runtime | outcome | digest |", "|---|---|---|"]
    lines += [f"| {r.runtime} | {r.outcome} | `{r.digest or '—'}` |" for r in record.runtimes]
    lines += ["", f"Runtime image conformance: {record.runtime_image_conformance}"]
    if record.downstream_pipelines:
        lines += ["", "### Downstream pipelines", ""] + [f"- {item}" for item in record.downstream_pipelines]
    lines += ["", "### Operator checklist", "", "| item | status | evidence |", "|---|---|---|"]
    lines += [f"| {c.item} | {c.status} | {_cell(c.evidence)} |" for c in record.checklist]
    notes = record_notes(record)
    if notes:
        lines += ["", "### Notes", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def record_notes(record: ReleaseRecord) -> list[str]:
    """The pipeline's notes, then each job that ran although the profile/mode leaves it out."""
    outside = [job for stage in record.stages for job in stage.ran_outside_profile]
    return [*record.notes, *(f"ran although the profile/mode leaves it out: {job}" for job in outside)]


def _failed_parts(record: ReleaseRecord) -> list[str]:
    """The gates (stages included) that failed, in the gate table's order."""
    return [g.name for g in record.gates if g.outcome == "failed"]


# Dagster shows a Markdown entry under 1000 characters inline, a longer one behind a dialog that opens focused on
# its Close button below the text (the whole record opened scrolled to its end): the headline names at most this
# many failed gates, the rest are the `gates` table's.
HEADLINE_FAILED = 5


def render_headline(record: ReleaseRecord) -> str:
    """The record's `record` entry in the Dagster UI: a few lines, shown inline. The gates, stages, runtimes and
    checklist are the record's tables beside it; the downstream pipelines and notes are lists."""
    run = f"promotion run {record.promotion_run_id}" if record.promotion_run_id else "no promotion run recorded"
    lines = [
        f"## {record.status}: `{record.sha}`",
        "",
        f"- pipeline: [{record.pipeline_id}]({record.pipeline_url}) — {record.pipeline_status}",
        f"- kind: {record.kind}; mode: {record.mode}; profile: {record.profile}; source ref: {record.source_ref}",
        f"- operator: {record.operator or '(not recorded)'}; {run}",
        f"- started: {record.started_at}; finished: {record.finished_at}",
    ]
    failed, notes = _failed_parts(record), record_notes(record)
    if failed:
        shown = failed[:HEADLINE_FAILED]
        more_failed = f" and {len(failed) - len(shown)} more" if len(failed) > len(shown) else ""
        lines.append(f"- failed: {', '.join(shown)}{more_failed}")
    if record.transient_retry_reason:
        lines.append(f"- retry of a failed SHA, stated transient: {record.transient_retry_reason}")
    if record.not_run_by_profile:
        lines.append(f"- {stage_rules.NOT_RUN_BY_PROFILE}: {', '.join(record.not_run_by_profile)}")
    lines.append(f"- runtime image conformance: {record.runtime_image_conformance}")
    lists = [name for name, items in (("downstream_pipelines", record.downstream_pipelines), ("notes", notes)) if items]
    details = "- details: the tables `gates`, `stages`, `runtimes`, `checklist`"
    lines.append(details + (f"; the lists {', '.join(f'`{name}`' for name in lists)}" if lists else ""))
    return "\n".join(lines) + "\n"


def _table(columns: Sequence[tuple[str, str, str]], rows: Sequence[dict[str, Any]]) -> dg.TableMetadataValue:
    schema = dg.TableSchema(columns=[dg.TableColumn(name, type_, description=text) for name, type_, text in columns])
    return dg.MetadataValue.table(records=[dg.TableRecord(row) for row in rows], schema=schema)


GATE_COLUMNS = (
    ("gate", "string", "Promotion gates in the gate registry's order, then the stages and pipeline gates."),
    ("outcome", "string", "passed, warning, failed, not evaluated, not checked, skipped, canceled, or not run."),
    ("detail", "string", "Why: the gate's reason as it was evaluated."),
)
STAGE_COLUMNS = (
    ("stage", "string", "The release stage, in pipeline order."),
    ("title", "string", "What the stage does."),
    ("outcome", "string", "passed, warning, failed, skipped, canceled, or not run by profile/mode."),
    ("status", "string", "The stage status as the JSON record has it."),
    ("duration_seconds", "number", "First job start to last job finish."),
    ("jobs", "string", "Each job's GitLab status (earlier attempts in brackets)."),
    ("hints", "string", "What to look at when the stage did not pass."),
)
RUNTIME_COLUMNS = (
    ("runtime", "string", "The runtime image."),
    ("outcome", "string", "published, publish failed, filtered, not run by profile/mode, or no publish job."),
    ("digest", "string", "The sha256 digest the publish job reported."),
    ("publish_job", "string", "The publish job."),
    ("job_url", "string", "The publish job in GitLab."),
)
CHECKLIST_COLUMNS = (
    ("item", "string", "The operator checklist, in the gate registry's order."),
    ("status", "string", "proved, failed, warning, or not checked."),
    ("evidence", "string", "The gates (or jobs) that proved it, or why nothing did."),
)


def _jobs(stage: StageRecord) -> str:
    return ", ".join(
        f"{j.name} {j.status}" + (f" [{', '.join(j.earlier_attempts)}]" if j.earlier_attempts else "")
        for j in stage.jobs
    )


def record_tables(record: ReleaseRecord) -> dict[str, dg.TableMetadataValue]:
    """The long parts of the record as tables: each row's outcome a word, so a failure reads "failed"."""
    return {
        "gates": _table(
            GATE_COLUMNS, [{"gate": g.name, "outcome": g.outcome, "detail": g.detail} for g in record.gates]
        ),
        "stages": _table(
            STAGE_COLUMNS,
            [
                {
                    "stage": s.stage,
                    "title": s.title,
                    "outcome": stage_outcome(s.status),
                    "status": s.status,
                    "duration_seconds": s.duration_seconds,
                    "jobs": _jobs(s),
                    "hints": " ".join(s.hints),
                }
                for s in record.stages
            ],
        ),
        "runtimes": _table(
            RUNTIME_COLUMNS,
            [
                {
                    "runtime": r.runtime,
                    "outcome": r.outcome,
                    "digest": r.digest or "",
                    "publish_job": r.publish_job or "",
                    "job_url": r.job_url or "",
                }
                for r in record.runtimes
            ],
        ),
        "checklist": _table(
            CHECKLIST_COLUMNS,
            [{"item": c.item, "status": c.status, "evidence": c.evidence} for c in record.checklist],
        ),
    }
