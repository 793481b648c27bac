"""The release record's final word: its status, final validation, and the operator checklist."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pc_release.models import PipelineInfo, Record, Verdict, VerdictStatus
from pc_release.policy.gates import GENERATED_COMMITTED, PREFLIGHT_REVIEWED, checklist_gates
from pc_release.policy.pipeline.downstream import Downstream, not_followed
from pc_release.policy.pipeline.stages import StageOutcome


class Gate(Record):
    """A promotion gate's evaluation as the promotion run recorded it."""

    name: str
    status: VerdictStatus
    description: str = ""


class ChecklistItem(Record):
    item: str
    status: Literal["proved", "failed", "warning", "not checked"]
    evidence: str


RecordStatus = Literal["released", "not released", "failed", "canceled", "dev-test, not released"]
RELEASED: RecordStatus = "released"


def is_release(status: str) -> bool:
    """Only a record that says released stands for a release: Dagster materializes it; anything else (failed,
    canceled, not released, a dev-test) is reported as an observation and never replaces the release in force."""
    return status == RELEASED


def outcome_words(outcome: str, ok: bool) -> str:
    """An outcome as a one-line event description says it: in capitals unless it is a success, so a failure
    never reads as one."""
    return outcome if ok else outcome.upper()


def record_status(
    kind: str,
    pipeline_status: str,
    stages: Sequence[StageOutcome],
    failed_gates: Sequence[str] = (),
    downstream: Sequence[Downstream] = (),
) -> RecordStatus:
    """The release's final word; a dev-test deploy is never a release, whatever its pipeline did.

    `failed_gates` are pc-release's own gates over the pipeline (publish coverage, digests, image conformance):
    a green pipeline they contradict is not a release. Nor is one whose child pipeline did not succeed: without
    `strategy: depend` GitLab calls the parent green whatever its child did.
    """
    if kind == "dev-test":
        return "dev-test, not released"
    if pipeline_status == "canceled":
        return "canceled"
    if pipeline_status != "success":
        return "failed"
    by_stage = {s.stage: s for s in stages}
    final = [by_stage[name] for name in ("deployment", "remote_validation") if name in by_stage]
    if all(stage.ok for stage in final) and not failed_gates and not any(d.failed for d in downstream):
        return "released"
    return "not released"


def final_validation(
    kind: str,
    pipeline: PipelineInfo,
    stages: Sequence[StageOutcome],
    failed_gates: Sequence[str] = (),
    downstream: Sequence[Downstream] = (),
) -> Verdict:
    """Close a release only after final validation: pipeline success with deploy and remote validation passed,
    in the release pipeline and the child pipelines it triggered. Downstream pipelines pc-release does not
    follow (multi-project) are named: a release over them says so, as a warning."""
    status = record_status(kind, pipeline.status, stages, failed_gates, downstream)
    unfollowed = not_followed(downstream)
    failed_children = [d.describe() for d in downstream if d.failed]
    evidence: dict[str, str | int | bool | list[str]] = {
        "pipeline_status": pipeline.status,
        "pipeline_url": pipeline.web_url,
        "stages": [f"{s.stage}: {s.status}" for s in stages],
        "failed_gates": list(failed_gates),
    }
    if downstream:
        evidence["downstream_pipelines"] = [d.describe() for d in downstream]
    hints = list(dict.fromkeys(h for s in stages for h in s.hints))
    if hints:
        evidence["hints"] = hints
    if status == "released":
        return Verdict(
            rule="final_validation",
            status="warning" if unfollowed else "passed",
            reason=f"released {pipeline.sha} by pipeline {pipeline.web_url}: deploy and remote validation passed"
            + (f"; {'; '.join(unfollowed)}" if unfollowed else ""),
            evidence=evidence,
        )
    if status == "dev-test, not released":
        return Verdict(
            rule="final_validation",
            status="warning",
            reason=f"dev-test, not released (pipeline {pipeline.status}); merge to master and promote normally",
            evidence=evidence,
        )
    unfinished = [f"{s.stage} {s.status}" for s in stages if not s.ok and s.status != "skipped"]
    return Verdict(
        rule="final_validation",
        ok=False,
        reason=f"{status}: pipeline {pipeline.status}"
        + (f"; {', '.join(unfinished)}" if unfinished else "")
        + (f"; failed gate(s): {', '.join(failed_gates)}" if failed_gates else "")
        + (f"; {'; '.join(failed_children)}" if failed_children else "")
        + (f"; {'; '.join(unfollowed)}" if unfollowed else "")
        + (f". {hints[0]}" if hints else ""),
        evidence=evidence,
    )


_GENERATED_JOB_WORDS = ("sdk", "codegen", "generated")


def operator_checklist(
    gates: Mapping[str, Gate], preflight: Mapping[str, str], stages: Sequence[StageOutcome]
) -> list[ChecklistItem]:
    """Each checklist item with the evidence that proved it, or "not checked"."""
    generated_jobs = [
        row
        for stage in stages
        if stage.stage == "build_test"
        for row in stage.jobs
        if row.ran and any(word in row.name.lower() for word in _GENERATED_JOB_WORDS)
    ]
    items = []
    for item, names in checklist_gates().items():
        found = [gates[name] for name in names if name in gates]
        # A gate that did not apply or could not look proves nothing: the item stays "not checked", with its reason.
        unproven = [g for g in found if g.status in ("not_applicable", "not_evaluated")]
        found = [g for g in found if g not in unproven]
        if found:
            statuses = {g.status for g in found}
            status: Literal["proved", "failed", "warning", "not checked"] = (
                "failed" if "failed" in statuses else "proved" if statuses == {"passed"} else "warning"
            )
            evidence = "; ".join(f"{g.name}: {g.description}" for g in found)
            if item == PREFLIGHT_REVIEWED and preflight:
                classes = preflight.get("classifications")
                evidence = f"local preflight {preflight.get('status', '?')}" + (
                    f" (classification: {classes}); {evidence}" if classes else f"; {evidence}"
                )
            items.append(ChecklistItem(item=item, status=status, evidence=evidence))
        elif item == GENERATED_COMMITTED and generated_jobs:
            passed = all(row.state == "passed" for row in generated_jobs)
            items.append(
                ChecklistItem(
                    item=item,
                    status="proved" if passed else "failed",
                    evidence="release pipeline: " + ", ".join(f"{row.name} {row.status}" for row in generated_jobs),
                )
            )
        else:
            evidence = "; ".join(f"{g.name}: {g.description}" for g in unproven) or "not checked"
            items.append(ChecklistItem(item=item, status="not checked", evidence=evidence))
    return items
