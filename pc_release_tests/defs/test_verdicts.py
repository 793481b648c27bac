"""The one verdict renderer: each verdict status shows as one kind of check, and reads back as the same status."""

from __future__ import annotations

import dagster as dg
import pydantic
import pytest

from pc_release.defs.verdicts import check_evaluation, check_result, evaluation_status, shown_as
from pc_release.models import Verdict


@pytest.mark.parametrize(
    ("verdict", "passed", "severity", "shown", "blocks"),
    [
        (Verdict(rule="r", ok=True, reason="fine"), True, dg.AssetCheckSeverity.WARN, "passed", False),
        (Verdict(rule="r", status="warning", reason="look"), False, dg.AssetCheckSeverity.WARN, "warning", False),
        (Verdict(rule="r", ok=False, reason="no"), False, dg.AssetCheckSeverity.ERROR, "failed", True),
        (
            Verdict(rule="r", status="not_applicable", reason="not applicable: nothing to judge"),
            False,
            dg.AssetCheckSeverity.WARN,
            "not evaluated",
            False,
        ),
        (
            Verdict(rule="r", status="not_evaluated", reason="not evaluated: no cluster"),
            False,
            dg.AssetCheckSeverity.WARN,
            "not evaluated",
            False,
        ),
    ],
)
def test_each_status_renders_as_one_kind_of_check_and_reads_back(verdict, passed, severity, shown, blocks):
    result = check_result(verdict, "source_commit")
    evaluation = check_evaluation(verdict, "source_commit")
    assert (result.passed, evaluation.passed) == (passed, passed)
    if not passed:
        assert (result.severity, evaluation.severity) == (severity, severity)
    assert result.metadata["verdict"].value == verdict.status
    assert evaluation_status(evaluation) == verdict.status
    assert shown_as(verdict.status) == shown
    assert verdict.ok is not blocks


def test_a_verdict_is_never_failed_but_only_a_warning():
    with pytest.raises(pydantic.ValidationError, match="not both"):
        Verdict(rule="r", ok=False, status="warning", reason="?")
    with pytest.raises(pydantic.ValidationError, match="warning"):
        Verdict(rule="r", ok=False, warning=True, reason="?")


def test_an_evaluation_rendered_elsewhere_reads_back_from_passed_and_severity():
    def evaluation(passed: bool, severity: dg.AssetCheckSeverity) -> dg.AssetCheckEvaluation:
        return dg.AssetCheckEvaluation(asset_key=dg.AssetKey("a"), check_name="c", passed=passed, severity=severity)

    assert evaluation_status(evaluation(True, dg.AssetCheckSeverity.ERROR)) == "passed"
    assert evaluation_status(evaluation(False, dg.AssetCheckSeverity.WARN)) == "warning"
    assert evaluation_status(evaluation(False, dg.AssetCheckSeverity.ERROR)) == "failed"
