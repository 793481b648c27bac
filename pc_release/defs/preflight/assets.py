"""local_preflight: the three local preflight checks run in parallel on the promoted SHA, classified, and gated.

Each check (playwright_e2e, role_authz_smoke, kind_parity) is an asset check of its own carrying its evidence;
`local_preflight_gate` is the blocking one, and blocks only under PLATFORM_CONTROL_REQUIRE_LOCAL_PREFLIGHT=true.
"""

from typing import Any

import dagster as dg

from pc_release.defs.gates import check_specs
from pc_release.defs.promotion.assets import GROUP
from pc_release.defs.promotion.refusal import refusals_as_failures
from pc_release.defs.verdicts import check_result
from pc_release.models import MasterCi, PreflightCheck, PreflightReport, PreflightTest
from pc_release.policy.preflight import (
    PREFLIGHT_CHECK_NAMES,
    check_verdict,
    preflight_gate,
    preflight_not_run,
    should_run,
)
from pc_release.preflight.runner import run_local_preflight
from pc_release.resources.commands import CommandRunnerResource
from pc_release.resources.git import GitResource
from pc_release.resources.kubernetes import KubernetesResource

ASSET = "local_preflight"


@dg.asset(
    group_name=GROUP,
    kinds={"python"},
    check_specs=check_specs(ASSET),
)
@refusals_as_failures
def local_preflight(
    context: dg.AssetExecutionContext,
    master_ci: MasterCi,
    git: GitResource,
    commands: CommandRunnerResource,
    kubernetes: KubernetesResource,
):
    """The local preflight's signal for this promotion: every check's outcome and classification."""
    source_commit = master_ci.source
    request = source_commit.request
    if should_run(request):
        report = run_local_preflight(git.clone(), source_commit.sha, request, commands, kubernetes)
    else:
        report = preflight_not_run(request)
    verdict = preflight_gate(report, request)
    ran = {check.name: check for check in report.checks}
    checks = [ran.get(name) or _not_run(name, report) for name in PREFLIGHT_CHECK_NAMES]
    outcomes = ", ".join(
        f"{check.name} {check.status}" + (f" ({check.classification})" if check.classification else "")
        for check in checks
    )
    # One line: each check's reason and evidence are in its own check result.
    (context.log.warning if verdict.warning or not verdict.ok else context.log.info)(f"{verdict.reason} [{outcomes}]")
    return dg.MaterializeResult(
        value=report.model_copy(update={"master_ci": master_ci}),
        metadata=_report_metadata(report, source_commit.sha),
        check_results=[check_result(verdict, ASSET), *(_check_result(check) for check in checks)],
    )


def _not_run(name: str, report: PreflightReport) -> PreflightCheck:
    return PreflightCheck(name=name, status="skipped", reason=report.reason)


def _check_result(check: PreflightCheck) -> dg.AssetCheckResult:
    metadata: dict[str, Any] = {
        "duration_seconds": check.duration_seconds,
        **{f"count_{key}": value for key, value in check.counts.items()},
    }
    if check.exit_code is not None:
        metadata["exit_code"] = check.exit_code
    if check.report_format:
        metadata["report_format"] = check.report_format
    if check.failing_tests:
        metadata["failing_tests"] = dg.MetadataValue.json([f"{t.title} ({t.location})" for t in check.failing_tests])
        metadata["failures"] = dg.MetadataValue.md(_tests_table(check.failing_tests))
    if check.flaky_tests:
        metadata["flaky_tests"] = dg.MetadataValue.json([f"{t.title} ({t.location})" for t in check.flaky_tests])
    for key, value in check.evidence.items():
        metadata[key] = dg.MetadataValue.json(value) if isinstance(value, list) else value
    if check.output_tail and check.status == "failed":
        metadata["output_tail"] = dg.MetadataValue.md(f"```\n{check.output_tail[-2000:]}\n```")
    return check_result(check_verdict(check), ASSET, metadata)


def _tests_table(tests: list[PreflightTest]) -> str:
    rows = ["| test | location | attempts | error |", "|---|---|---|---|"]
    for test in tests:
        message = test.message.replace("|", "\\|")
        rows.append(f"| {test.title.replace('|', '/')} | {test.location} | {test.attempts} | {message} |")
    return "\n".join(rows)


def _report_metadata(report: PreflightReport, sha: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "sha": sha,
        "status": report.status,
        "reason": report.reason,
        "blocking": report.blocking,
        "scope": report.scope or "full",
        "classifications": dg.MetadataValue.json(report.classifications),
    }
    if report.duration_seconds is not None:
        slowest = max((c.duration_seconds for c in report.checks), default=0.0)
        metadata["duration_seconds"] = report.duration_seconds
        metadata["slowest_check_seconds"] = slowest
    if report.checks:
        rows = ["| check | status | classification | seconds | tests | reason |", "|---|---|---|---|---|---|"]
        for c in report.checks:
            counts = ", ".join(f"{k} {v}" for k, v in c.counts.items() if v) or "-"
            reason = c.reason.replace("|", "\\|")
            seconds = f"{c.duration_seconds:.1f}"
            rows.append(f"| {c.name} | {c.status} | {c.classification or '-'} | {seconds} | {counts} | {reason} |")
        metadata["checks"] = dg.MetadataValue.md("\n".join(rows))
    return metadata
