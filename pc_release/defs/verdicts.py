"""Policy verdicts as Dagster shows them, and read back: the one place a Verdict becomes a check result, a check
evaluation or metadata, and where event-log metadata and evaluations become plain values and gate states again.

How each verdict status shows as a check:

| status           | check passed | severity | Dagster shows |
|------------------|--------------|----------|---------------|
| passed           | yes          | -        | passed        |
| warning          | no           | WARN     | warning       |
| not_applicable   | no           | WARN     | warning, "not applicable: ..." (never a vacuous pass) |
| not_evaluated    | no           | WARN     | warning, "not evaluated: ..." |
| failed           | no           | ERROR    | failed (a blocking check stops the run) |

The status is in the check's metadata under `verdict`, so a reader never reconstructs it from passed/severity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from pc_release.models import Verdict, VerdictStatus

VERDICT_KEY = "verdict"
_SHOWN_AS: dict[VerdictStatus, str] = {
    "passed": "passed",
    "warning": "warning",
    "failed": "failed",
    "not_applicable": "not evaluated",
    "not_evaluated": "not evaluated",
}


def shown_as(status: VerdictStatus) -> str:
    """The word a summary, table or record shows for a status; "not applicable" reads as "not evaluated" (its
    reason says why), never as a pass."""
    return _SHOWN_AS[status]


def verdict_metadata(verdict: Verdict) -> dict[str, Any]:
    """The verdict's rule, status, reason and evidence as check metadata (lists as JSON)."""
    metadata: dict[str, Any] = {"rule": verdict.rule, VERDICT_KEY: verdict.status, "reason": verdict.reason}
    for key, value in verdict.evidence.items():
        metadata[key] = dg.MetadataValue.json(value) if isinstance(value, list) else value
    return metadata


def _severity(verdict: Verdict) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.ERROR if verdict.status == "failed" else dg.AssetCheckSeverity.WARN


def check_result(verdict: Verdict, asset: str, metadata: Mapping[str, Any] | None = None) -> dg.AssetCheckResult:
    """A verdict as the result of a check computed in a step (an asset's check_specs or an asset check);
    `metadata` adds what only the caller knows (durations, test tables), after the verdict's own."""
    return dg.AssetCheckResult(
        check_name=verdict.rule,
        asset_key=asset,
        passed=verdict.status == "passed",
        severity=_severity(verdict),
        description=verdict.reason,
        metadata={**verdict_metadata(verdict), **(metadata or {})},
    )


def check_evaluation(verdict: Verdict, asset: str) -> dg.AssetCheckEvaluation:
    """A verdict as a check evaluation reported outside a step (by a sensor)."""
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey(asset),
        check_name=verdict.rule,
        passed=verdict.status == "passed",
        severity=_severity(verdict),
        description=verdict.reason,
        metadata=verdict_metadata(verdict),
    )


def plain_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Dagster metadata as plain values (a MetadataValue's `.value`), as the event log hands it back."""
    return {key: getattr(value, "value", value) for key, value in metadata.items()}


def evaluation_status(evaluation: dg.AssetCheckEvaluation) -> VerdictStatus:
    """The verdict status a check evaluation was rendered from; an evaluation not rendered here (no `verdict`
    metadata) is passed, failed (ERROR) or a warning (WARN)."""
    recorded = plain_metadata(evaluation.metadata).get(VERDICT_KEY)
    if recorded in ("passed", "warning", "failed", "not_applicable", "not_evaluated"):
        return recorded
    if evaluation.passed:
        return "passed"
    return "warning" if evaluation.severity == dg.AssetCheckSeverity.WARN else "failed"
