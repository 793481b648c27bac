"""Local preflight rules: advisory by default, blocking on request, skippable on purpose, scoped only to debug.

The policy: the local preflight is required as a signal but advisory by default (green CI on the exact SHA
is the primary gate); PLATFORM_CONTROL_REQUIRE_LOCAL_PREFLIGHT=true makes any failure block;
PLATFORM_CONTROL_SKIP_LOCAL_PREFLIGHT=true skips it intentionally; the dev-test bypass skips it unless asked;
a scoped frontend preflight is a debugging override and never counts as the full preflight.
"""

from __future__ import annotations

from collections.abc import Sequence

from pc_release.models import PreflightCheck, PreflightReport, PromotionRequest, Verdict

_SEVERITY = ("release_blocker", "environment_drift", "local_instability")

# Gate names, listed in the gate registry (policy/gates.py): the blocking gate, and the three checks it summarizes.
PREFLIGHT_GATE = "local_preflight_gate"
PLAYWRIGHT_E2E = "playwright_e2e"
ROLE_AUTHZ_SMOKE = "role_authz_smoke"
KIND_PARITY = "kind_parity"
PREFLIGHT_CHECK_NAMES = (PLAYWRIGHT_E2E, ROLE_AUTHZ_SMOKE, KIND_PARITY)


def should_run(request: PromotionRequest) -> bool:
    """Whether this promotion runs the local preflight at all."""
    return not request.skip_local_preflight


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


def preflight_not_configured(request: PromotionRequest, sha: str, config_path: str) -> PreflightReport:
    """The repository at `sha` declares no preflight (no release config): nothing ran, and it is said so."""
    return PreflightReport(
        status="not_run",
        reason=f"{config_path} does not exist at {sha[:12]}: the repository declares no local preflight",
        blocking=request.require_local_preflight,
        scope=request.preflight_scope,
    )


def summarize_preflight(
    checks: Sequence[PreflightCheck], request: PromotionRequest, duration_seconds: float | None = None
) -> PreflightReport:
    """One signal from the checks: passed or failed (scoped_* under a scope), with every failure classified."""
    scope = request.preflight_scope
    ran = [check for check in checks if check.status != "skipped"]
    failed = [check for check in checks if check.status == "failed"]
    classifications = {check.name: check.classification or "release_blocker" for check in failed}
    if not ran:
        status, reason = "not_run", "no local preflight check is declared at this commit"
    elif failed:
        ordered = sorted(failed, key=lambda c: _SEVERITY.index(classifications[c.name]))
        status = "scoped_failed" if scope else "failed"
        reason = "; ".join(f"{c.name} {classifications[c.name]}: {c.reason}" for c in ordered)
    else:
        status = "scoped_passed" if scope else "passed"
        reason = f"{len(ran)} check(s) passed: {', '.join(c.name for c in ran)}"
    if scope:
        reason = f"scoped to {scope!r} (debugging override, not the full preflight); {reason}"
    return PreflightReport(
        status=status,
        # One line: the reason travels into the candidate env as PLATFORM_CONTROL_LOCAL_PREFLIGHT_REASON.
        reason=" ".join(reason.split()),
        blocking=request.require_local_preflight,
        scope=scope,
        classifications=classifications,
        checks=list(checks),
        duration_seconds=duration_seconds,
    )


def check_verdict(check: PreflightCheck) -> Verdict:
    """One preflight check rendered for the UI: a release blocker is an error, drift and flakiness warnings."""
    evidence: dict[str, str | int | bool | list[str]] = {"status": check.status}
    if check.classification:
        evidence["classification"] = check.classification
    if check.scope:
        evidence["scope"] = check.scope
    if check.status == "passed":
        return Verdict(rule=check.name, ok=True, reason=check.reason, evidence=evidence)
    if check.status == "skipped":
        return Verdict(rule=check.name, status="warning", reason=f"skipped: {check.reason}", evidence=evidence)
    return Verdict(
        rule=check.name,
        status="warning" if check.classification not in (None, "release_blocker") else "failed",
        reason=f"{check.classification or 'release_blocker'}: {check.reason}",
        evidence=evidence,
    )


def preflight_gate(report: PreflightReport, request: PromotionRequest) -> Verdict:
    """Advisory: continue with a warning. REQUIRE: anything short of a full pass blocks. SKIP: recorded."""
    evidence: dict[str, str | int | bool | list[str]] = {
        "status": report.status,
        "classifications": [f"{name}: {kind}" for name, kind in report.classifications.items()],
        "required": request.require_local_preflight,
    }
    if report.scope:
        evidence["scope"] = report.scope
    if report.status == "passed":
        checks = ", ".join(check.name for check in report.checks)
        return Verdict(rule=PREFLIGHT_GATE, ok=True, reason=f"every check passed: {checks}", evidence=evidence)
    if report.status == "skipped":
        return Verdict(rule=PREFLIGHT_GATE, status="warning", reason=report.reason, evidence=evidence)
    if request.require_local_preflight:
        scoped = "; a scoped preflight never stands in for the full one" if report.scope else ""
        return Verdict(
            rule=PREFLIGHT_GATE,
            ok=False,
            reason=f"PLATFORM_CONTROL_REQUIRE_LOCAL_PREFLIGHT=true and local preflight is {report.status}{scoped}: "
            f"{report.reason}",
            evidence=evidence,
        )
    review = (
        "; review whether it is a real release blocker before deploying"
        if "release_blocker" in report.classifications.values()
        else ""
    )
    return Verdict(
        rule=PREFLIGHT_GATE,
        status="warning",
        reason=f"local preflight {report.status} (advisory, promotion continues{review}): {report.reason}",
        evidence=evidence,
    )
