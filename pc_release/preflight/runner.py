"""The local preflight run: every declared check at once, each in its own thread, each judged and classified.

The checks are independent (each command gets its own worktree of the promoted SHA), so the preflight takes
as long as its slowest check rather than the sum of all of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pc_release.errors import InvalidInput, PcReleaseError
from pc_release.models import PreflightCheck, PreflightReport, PreflightTest, PromotionRequest
from pc_release.policy.preflight import (
    KIND_PARITY,
    PLAYWRIGHT_E2E,
    PREFLIGHT_CHECK_NAMES,
    preflight_not_configured,
    summarize_preflight,
)
from pc_release.preflight.classify import Judgement, judge_command, one_line
from pc_release.preflight.models import CaseOutcome, CommandResult, ParityResult, SuiteReport
from pc_release.preflight.parity import Facts, RendererMissing, compare, live_facts, load_overlay, overlay_facts
from pc_release.preflight.reports import ReportError, parse_report
from pc_release.release_config import (
    RELEASE_CONFIG_PATH,
    CommandCheck,
    KindParityConfig,
    PreflightConfig,
    load_release_config,
)
from pc_release.resources.commands import CommandRunnerResource
from pc_release.resources.git import GitClone
from pc_release.resources.kubernetes import KubernetesResource

SCOPED_CHECK = PLAYWRIGHT_E2E
_OUTPUT_TAIL = 4000
_LISTED_TESTS = 20

# Runs a check's command in a fresh worktree of the promoted SHA and reads back the named report files.
RunCommand = Callable[[CommandCheck, dict[str, str], list[str]], CommandResult]
ReadFile = Callable[[str], str | None]


@dataclass(frozen=True)
class LiveCluster:
    """The live kind cluster, when a kube context is configured: its facts for a namespace, and where it is."""

    describe: str
    facts: Callable[[str], Facts]


def live_cluster(kubernetes: KubernetesResource) -> LiveCluster | None:
    """The live kind cluster behind a configured kube context, or None when no cluster is configured."""
    if not kubernetes.configured:
        return None

    def facts(namespace: str) -> Facts:
        return live_facts(
            kubernetes.deployments(namespace), kubernetes.configmaps(namespace), kubernetes.secrets(namespace)
        )

    return LiveCluster(describe=kubernetes.target, facts=facts)


def run_parallel(tasks: dict[str, Callable[[], PreflightCheck]]) -> list[PreflightCheck]:
    """Run every task in its own thread; results come back in the tasks' order."""
    if not tasks:
        return []
    with ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="preflight") as pool:
        futures = {name: pool.submit(_guarded, name, task) for name, task in tasks.items()}
        return [future.result() for future in futures.values()]


def _guarded(name: str, task: Callable[[], PreflightCheck]) -> PreflightCheck:
    started = time.monotonic()
    try:
        return task()
    except InvalidInput:
        # The release config asks for something pc-release refuses (a path outside the repo): stop, name the rule.
        raise
    except PcReleaseError as err:
        # pc-release could not even set the check up (worktree, cluster config): nothing about the code.
        return PreflightCheck(
            name=name,
            status="failed",
            classification="environment_drift",
            reason=f"could not run: {one_line(str(err))}",
            duration_seconds=round(time.monotonic() - started, 3),
            evidence={"error_rule": err.rule},
        )


def plan_checks(
    config: PreflightConfig,
    *,
    run_command: RunCommand,
    read_file: ReadFile,
    live: LiveCluster | None,
    scope: str | None,
) -> dict[str, Callable[[], PreflightCheck]]:
    """One task per preflight check the release config declares, plus the built-in kind parity."""
    tasks: dict[str, Callable[[], PreflightCheck]] = {}
    signatures = list(config.environment_drift_signatures)
    for name, spec in config.checks.items():
        extra_env = {config.scoped_grep_env: scope} if scope and name == SCOPED_CHECK else {}
        check_scope = scope if name == SCOPED_CHECK else None

        def task(name=name, spec=spec, extra_env=extra_env, check_scope=check_scope) -> PreflightCheck:
            collect = [spec.report.path] if spec.report.path else []
            result = run_command(spec, extra_env, collect)
            return command_check(name, spec, result, signatures, check_scope)

        tasks[name] = task
    tasks[KIND_PARITY] = lambda: kind_parity_check(config.kind_parity, read_file, live)
    return tasks


def not_declared(name: str) -> PreflightCheck:
    return PreflightCheck(name=name, status="skipped", reason="not declared in the release config at this commit")


def command_check(
    name: str, spec: CommandCheck, result: CommandResult, signatures: list[str], scope: str | None
) -> PreflightCheck:
    """Judge a finished command check from its exit, its output and its report."""
    report, problem = _read_report(spec, result)
    judgement = judge_command(result, report, problem, signatures)
    evidence: dict[str, str | int | bool | list[str]] = {"command": " ".join(spec.command), "cwd": spec.cwd}
    if spec.report.path:
        evidence["report_path"] = spec.report.path
    if problem:
        evidence["report_problem"] = problem
    if report is not None:
        if report.declared:
            evidence["report_declares"] = [f"{k}={v}" for k, v in report.declared.items()]
        if report.tool_version:
            evidence["tool_version"] = report.tool_version
        if report.errors:
            evidence["suite_errors"] = [one_line(e, 300) for e in report.errors[:5]]
    return _check(name, judgement, evidence, scope, spec.report.format, result, report)


def _read_report(spec: CommandCheck, result: CommandResult) -> tuple[SuiteReport | None, str | None]:
    if spec.report.format == "exit-code" or not spec.report.path or not result.started or result.timed_out:
        return None, None
    text = result.files.get(spec.report.path)
    if text is None:
        return None, f"no {spec.report.format} report at {spec.report.path}"
    try:
        return parse_report(spec.report.format, text, repo_root=result.workdir), None
    except ReportError as err:
        return None, f"{spec.report.path}: {err.detail}"


def _tests(cases: list[CaseOutcome]) -> list[PreflightTest]:
    return [
        PreflightTest(
            title=case.title,
            location=case.location,
            project=case.project,
            attempts=case.attempts,
            message=one_line(case.messages[0], 300) if case.messages else "",
        )
        for case in cases[:_LISTED_TESTS]
    ]


def _check(
    name: str,
    judgement: Judgement,
    evidence: dict[str, str | int | bool | list[str]],
    scope: str | None,
    report_format: str,
    result: CommandResult,
    report: SuiteReport | None,
) -> PreflightCheck:
    if judgement.signature:
        evidence["drift_signature"] = judgement.signature
    evidence |= judgement.evidence
    return PreflightCheck(
        name=name,
        status="passed" if judgement.passed else "failed",
        reason=judgement.reason,
        classification=judgement.classification,
        scope=scope,
        report_format=report_format,
        exit_code=result.exit_code,
        duration_seconds=round(result.duration_seconds, 3),
        counts=report.counts if report is not None else {},
        failing_tests=_tests(report.with_result("failed")) if report is not None else [],
        flaky_tests=_tests(report.with_result("flaky")) if report is not None else [],
        evidence=evidence,
        output_tail=result.output[-_OUTPUT_TAIL:],
    )


def kind_parity_check(config: KindParityConfig, read_file: ReadFile, live: LiveCluster | None) -> PreflightCheck:
    """Compare the overlays at the promoted SHA, then (with a kube context) the live kind cluster.

    Overlay drift is a defect in the repository (release_blocker); a live cluster that differs while the
    overlays agree, or that cannot be reached, is the local environment (environment_drift).
    """
    started = time.monotonic()

    def done(**fields) -> PreflightCheck:
        return PreflightCheck(
            name=KIND_PARITY, report_format="overlays", duration_seconds=round(time.monotonic() - started, 3), **fields
        )

    try:
        kind_overlay = load_overlay(read_file, config.kind_overlay)
        platform_overlay = load_overlay(read_file, config.platform_overlay)
    except RendererMissing as err:
        # kubectl is missing on this machine: that says nothing about the overlays themselves.
        return done(
            status="failed",
            classification="environment_drift",
            reason=one_line(err.detail),
            evidence={"error_rule": err.rule},
        )
    except PcReleaseError as err:
        return done(status="failed", classification="release_blocker", reason=one_line(err.detail))
    platform = overlay_facts(platform_overlay)
    overlays = compare(("kind", overlay_facts(kind_overlay)), ("platform", platform), config.allow)
    evidence = _parity_evidence("overlay", overlays) | {
        "kind_overlay": config.kind_overlay,
        "platform_overlay": config.platform_overlay,
    }
    counts = {"compared": sum(overlays.compared.values()), "allowed": len(overlays.allowed)}
    if overlays.drift:
        counts["differences"] = len(overlays.drift)
        return done(
            status="failed",
            classification="release_blocker",
            reason=f"{config.kind_overlay} and {config.platform_overlay} differ: {_listed(overlays)}",
            counts=counts,
            evidence=evidence,
        )
    if live is None:
        return done(
            status="passed",
            reason=f"{config.kind_overlay} mirrors {config.platform_overlay} "
            f"({len(overlays.allowed)} declared difference(s)); no kube context configured, live cluster not compared",
            counts=counts,
            evidence=evidence,
        )
    namespace = kind_overlay.namespace or "default"
    evidence |= {"live_cluster": live.describe, "live_namespace": namespace}
    try:
        cluster = live.facts(namespace)
    except PcReleaseError as err:
        return done(
            status="failed",
            classification="environment_drift",
            reason=f"overlays agree, but the live kind cluster could not be read: {one_line(err.detail)}",
            counts=counts,
            evidence=evidence | {"error_rule": err.rule},
        )
    against_live = compare(("live", cluster), ("platform", platform), config.allow)
    evidence |= _parity_evidence("live", against_live)
    if against_live.drift:
        counts["live_differences"] = len(against_live.drift)
        return done(
            status="failed",
            classification="environment_drift",
            reason=f"overlays agree, but the live kind cluster ({live.describe}, namespace {namespace}) differs from "
            f"{config.platform_overlay}: {_listed(against_live)}; re-apply the kind overlay",
            counts=counts,
            evidence=evidence,
        )
    return done(
        status="passed",
        reason=f"{config.kind_overlay} and the live kind cluster (namespace {namespace}) mirror "
        f"{config.platform_overlay} ({len(overlays.allowed)} declared difference(s))",
        counts=counts,
        evidence=evidence,
    )


def _listed(result: ParityResult, limit: int = 6) -> str:
    drift = result.drift
    more = f" (+{len(drift) - limit} more)" if len(drift) > limit else ""
    return ", ".join(d.label for d in drift[:limit]) + more


def _parity_evidence(prefix: str, result: ParityResult) -> dict[str, str | int | bool | list[str]]:
    evidence: dict[str, str | int | bool | list[str]] = {
        f"{prefix}_differences": [f"{d.label} [{d.source}]" for d in result.drift],
        f"{prefix}_allowed_differences": [d.label for d in result.allowed],
    }
    if prefix == "overlay":
        evidence["stale_allow_entries"] = result.stale_allow
    return evidence


def run_local_preflight(
    clone: GitClone,
    sha: str,
    request: PromotionRequest,
    commands: CommandRunnerResource,
    kubernetes: KubernetesResource,
) -> PreflightReport:
    """The whole local preflight of `sha`, as its release config declares it, all checks at once."""
    text = clone.show_file(sha, RELEASE_CONFIG_PATH)
    if text is None:
        return preflight_not_configured(request, sha, RELEASE_CONFIG_PATH)
    config = load_release_config(text, source=f"{RELEASE_CONFIG_PATH}@{sha[:12]}").preflight

    def run_command(spec: CommandCheck, extra_env: dict[str, str], collect: list[str]) -> CommandResult:
        return commands.run_in_worktree(
            clone.path,
            sha,
            spec.command,
            cwd=spec.cwd,
            env={**spec.env, **extra_env},
            timeout=spec.timeout_seconds,
            collect=collect,
        )

    tasks = plan_checks(
        config,
        run_command=run_command,
        read_file=lambda path: clone.show_file(sha, path),
        live=live_cluster(kubernetes),
        scope=request.preflight_scope,
    )
    started = time.monotonic()
    checks = run_parallel(tasks)
    duration = round(time.monotonic() - started, 3)
    declared = {check.name for check in checks}
    checks += [not_declared(name) for name in PREFLIGHT_CHECK_NAMES if name not in declared]
    return summarize_preflight(checks, request, duration)
