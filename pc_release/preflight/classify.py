"""Classification of a failed preflight check: release blocker, environment drift or local instability.

The policy lets a local preflight failure block only when it shows a real release-risking defect, so every
failure says which of the three it is, and why:

- `environment_drift`: the check could not run meaningfully here (browser missing, cluster unreachable,
  connection refused, ...): its output or a test's error matches one of the repository's configured
  drift signatures, the check's program could not be started, the check ran out of time, or its report
  covers only one shard of the suite (`--shard`: the other shards did not run here);
- `release_blocker`: a test failed on every attempt for a reason no drift signature explains, or the check
  failed without any explanation at all (a human has to look before it may be called noise);
- `local_instability`: flaky by the test tool's own rule: some attempts of a test failed and a retry passed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from pc_release.models import PreflightClassification
from pc_release.preflight.models import CaseOutcome, CommandResult, SuiteReport


@dataclass(frozen=True)
class Judgement:
    """A check's verdict before it is dressed as a PreflightCheck record."""

    passed: bool
    reason: str
    classification: PreflightClassification | None = None
    signature: str | None = None
    evidence: dict[str, str | int | bool | list[str]] = field(default_factory=dict)


def drift_signature(texts: Iterable[str], signatures: Iterable[str]) -> str | None:
    """The first configured drift signature (a regular expression) found in any of `texts`."""
    texts = [text for text in texts if text]
    for signature in signatures:
        pattern = re.compile(signature, re.MULTILINE)
        if any(pattern.search(text) for text in texts):
            return signature
    return None


def one_line(text: str, limit: int = 240) -> str:
    """Collapse whitespace so the text fits one line of the candidate env and a metadata cell."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first(cases: list[CaseOutcome]) -> str:
    case = cases[0]
    message = f": {one_line(case.messages[0], 160)}" if case.messages else ""
    more = f" (+{len(cases) - 1} more)" if len(cases) > 1 else ""
    return f"'{case.title}' ({case.location}){message}{more}"


def judge_command(
    result: CommandResult,
    report: SuiteReport | None,
    report_problem: str | None,
    signatures: list[str],
) -> Judgement:
    """Judge one command check from its run and, when it has one, its parsed report."""
    if not result.started:
        return Judgement(
            passed=False,
            classification="environment_drift",
            reason=f"could not be started: {one_line(result.output)}",
        )
    if result.timed_out:
        return Judgement(
            passed=False,
            classification="environment_drift",
            reason=f"did not finish within {result.timeout_seconds:g}s and was stopped; it could not run "
            "meaningfully here",
            evidence={"timed_out": True},
        )
    if report is not None:
        judged = _judge_report(report, signatures)
        if judged is not None:
            return judged
    exit_code = result.exit_code
    if exit_code == 0 and report_problem is None:
        return Judgement(passed=True, reason=_passed_reason(report))
    signature = drift_signature([result.output], signatures)
    problem = f"; report: {report_problem}" if report_problem else ""
    if signature:
        return Judgement(
            passed=False,
            classification="environment_drift",
            signature=signature,
            reason=f"exited {exit_code} and its output matches environment-drift signature {signature!r}{problem}",
        )
    return Judgement(
        passed=False,
        classification="release_blocker",
        reason=f"exited {exit_code} with no environment-drift signature in its output{problem}; treat it as a "
        "release blocker until shown otherwise",
    )


def _judge_report(report: SuiteReport, signatures: list[str]) -> Judgement | None:
    """The verdict a report alone supports, or None when it shows no failure (the exit code then decides)."""
    failed = report.with_result("failed")
    drifted = [case for case in failed if drift_signature(case.messages, signatures)]
    real = [case for case in failed if case not in drifted]
    flaky = report.with_result("flaky")
    if real:
        return Judgement(
            passed=False,
            classification="release_blocker",
            reason=f"{len(real)} test(s) failed on every attempt: {_first(real)}",
        )
    suite_signature = drift_signature(report.errors, signatures)
    if drifted or suite_signature:
        signature = suite_signature or drift_signature(drifted[0].messages, signatures)
        what = f"{len(drifted)} test(s) failed" if drifted else "the suite failed outside any test"
        example = f": {_first(drifted)}" if drifted else f": {one_line(report.errors[0], 160)}"
        return Judgement(
            passed=False,
            classification="environment_drift",
            signature=signature,
            reason=f"{what} with environment-drift signature {signature!r}{example}",
        )
    if report.errors:
        return Judgement(
            passed=False,
            classification="release_blocker",
            reason=f"the suite reported {len(report.errors)} error(s) outside any test: "
            f"{one_line(report.errors[0], 160)}",
        )
    if report.shard:
        # `--shard` ran one slice of the suite: the rest never ran here, so the suite has not passed.
        return Judgement(
            passed=False,
            classification="environment_drift",
            reason=f"the report covers shard {report.shard} of the suite only; the other shards did not run here, "
            "so the full e2e suite has not passed (run it without --shard)",
            evidence={"report_shard": report.shard},
        )
    if flaky:
        return Judgement(
            passed=False,
            classification="local_instability",
            reason=f"{len(flaky)} flaky test(s) failed, then passed on retry: {_first(flaky)}",
        )
    return None


def _passed_reason(report: SuiteReport | None) -> str:
    if report is None:
        return "exited 0"
    counts = report.counts
    skipped = f", {counts['skipped']} skipped" if counts["skipped"] else ""
    return f"{counts['passed']} test(s) passed{skipped}"
