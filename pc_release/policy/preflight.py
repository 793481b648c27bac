"""Local preflight rules: advisory by default, blocking on request, skippable on purpose."""

from __future__ import annotations

from pc_release.models import PreflightReport, PromotionRequest, Verdict


def preflight_not_run(request: PromotionRequest) -> PreflightReport:
    """The report when no preflight check executes: an intentional skip, or nothing configured to run."""
    if request.skip_local_preflight:
        reason = (
            "skipped by the dev-test bypass (default)"
            if request.dev_test
            else "skipped intentionally (PLATFORM_CONTROL_SKIP_LOCAL_PREFLIGHT=true)"
        )
        return PreflightReport(status="skipped", reason=reason)
    return PreflightReport(
        status="not_run",
        reason="no local preflight checks ran in this promotion",
        blocking=request.require_local_preflight,
    )


def preflight_gate(report: PreflightReport, request: PromotionRequest) -> Verdict:
    """Block only when the operator made preflight a gate and it did not pass in full."""
    if report.status == "passed":
        return Verdict(rule="local_preflight_gate", ok=True, reason="local preflight passed")
    if report.status == "skipped":
        return Verdict(rule="local_preflight_gate", ok=True, warning=True, reason=report.reason)
    if request.require_local_preflight:
        return Verdict(
            rule="local_preflight_gate",
            ok=False,
            reason=f"PLATFORM_CONTROL_REQUIRE_LOCAL_PREFLIGHT=true and local preflight is {report.status}: "
            f"{report.reason}",
        )
    return Verdict(
        rule="local_preflight_gate",
        ok=True,
        warning=True,
        reason=f"local preflight {report.status} (advisory): {report.reason}",
    )
