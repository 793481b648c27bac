"""Parsers of the reports preflight checks write: Playwright's JSON reporter and JUnit XML."""

from __future__ import annotations

import json
import posixpath
import re
import xml.etree.ElementTree as ET
from typing import Any

from pc_release.errors import PcReleaseError
from pc_release.preflight.models import CaseOutcome, CaseResult, SuiteReport

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_MESSAGE_LIMIT = 600

# Playwright's per-test verdict (TestCase.outcome()): "flaky" means some attempts failed and a retry passed.
_PLAYWRIGHT_OUTCOMES: dict[str, CaseResult] = {
    "expected": "passed",
    "unexpected": "failed",
    "flaky": "flaky",
    "skipped": "skipped",
}


class ReportError(PcReleaseError):
    """A check's report is missing, unreadable or not in the format its release config declares."""

    rule = "preflight-report"


def clean_message(text: str) -> str:
    """A report's error text without terminal colours, trimmed to what a metadata cell can show."""
    text = _ANSI.sub("", text).strip()
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 3] + "..."


def parse_report(fmt: str, text: str, repo_root: str | None = None) -> SuiteReport:
    if fmt == "playwright-json":
        return parse_playwright_json(text, repo_root)
    if fmt == "junit-xml":
        return parse_junit_xml(text)
    raise ReportError(f"no parser for report format {fmt!r}")


def parse_playwright_json(text: str, repo_root: str | None = None) -> SuiteReport:
    """Every test (one per spec and project) of a Playwright JSON report with Playwright's own outcome.

    Locations are `file:line`, relative to `repo_root` when the report's rootDir lies inside it (the
    worktree the suite ran in), else relative to the report's rootDir.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ReportError(f"not JSON: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("suites"), list):
        raise ReportError("not a Playwright JSON report (no 'suites' list)")
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    root_dir = config.get("rootDir")
    cases: list[CaseOutcome] = []

    def walk(suite: dict[str, Any], titles: list[str]) -> None:
        for spec in suite.get("specs") or []:
            for test in spec.get("tests") or []:
                cases.append(_playwright_case(spec, test, titles, root_dir, repo_root))
        for child in suite.get("suites") or []:
            walk(child, [*titles, child.get("title", "")])

    # Top-level suites are files; their titles repeat the file name and stay out of test titles.
    for suite in data["suites"]:
        walk(suite, [])
    stats = data.get("stats") if isinstance(data.get("stats"), dict) else {}
    declared = {
        ours: int(stats[theirs])
        for theirs, ours in (
            ("expected", "passed"),
            ("unexpected", "failed"),
            ("flaky", "flaky"),
            ("skipped", "skipped"),
        )
        if isinstance(stats.get(theirs), int | float)
    }
    duration_ms = stats.get("duration", (config.get("metadata") or {}).get("totalTime"))
    return SuiteReport(
        format="playwright-json",
        cases=cases,
        errors=[clean_message(_error_text(error)) for error in data.get("errors") or []],
        duration_seconds=round(duration_ms / 1000, 3) if isinstance(duration_ms, int | float) else None,
        declared=declared,
        tool_version=config.get("version"),
        shard=_shard(config.get("shard")),
    )


def _shard(shard: Any) -> str | None:
    """`--shard=current/total` as the report's config records it; null (or total 1) means the whole suite."""
    if not isinstance(shard, dict) or not isinstance(shard.get("total"), int) or shard["total"] <= 1:
        return None
    return f"{shard.get('current')}/{shard['total']}"


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error.get("value") or error.get("stack") or "")
    return str(error)


def playwright_outcome(expected_status: str, statuses: list[Any]) -> str:
    """Playwright's TestCase outcome (calculateTestOutcome in packages/playwright/src/isomorphic/): attempts
    cut short (interrupted, ignored) do not count; an attempt is good when it ends as the test expects
    (`expectedStatus`, "failed" under test.fail()); no counted attempt or only skips is "skipped"."""
    completed = [s for s in statuses if s not in ("interrupted", "ignored")]
    if all(s == "skipped" for s in completed):
        return "skipped"
    good = [s for s in completed if s == expected_status]
    if not good:
        return "unexpected"
    return "expected" if len(good) == len(completed) else "flaky"


def _playwright_case(
    spec: dict[str, Any], test: dict[str, Any], titles: list[str], root_dir: str | None, repo_root: str | None
) -> CaseOutcome:
    results = test.get("results") or []
    status = test.get("status")
    if status in _PLAYWRIGHT_OUTCOMES:
        outcome = _PLAYWRIGHT_OUTCOMES[status]
    else:
        # Reports without a test-level status: Playwright's own rule applied to the attempts.
        outcome = _PLAYWRIGHT_OUTCOMES[
            playwright_outcome(test.get("expectedStatus") or "passed", [r.get("status") for r in results])
        ]
    messages: list[str] = []
    for result in results:
        if result.get("status") == "passed":
            continue
        errors = result.get("errors") or ([result["error"]] if result.get("error") else [])
        for error in errors:
            message = clean_message(_error_text(error))
            if message and message not in messages:
                messages.append(message)
    return CaseOutcome(
        title=" > ".join([*[t for t in titles if t], spec.get("title", "")]),
        location=_location(spec, root_dir, repo_root),
        project=test.get("projectName") or None,
        result=outcome,
        attempts=max(len(results), 1),
        messages=messages,
    )


def _location(spec: dict[str, Any], root_dir: str | None, repo_root: str | None) -> str:
    file = spec.get("file") or "?"
    if root_dir and repo_root:
        absolute = posixpath.normpath(posixpath.join(root_dir, file))
        root = repo_root.rstrip("/") + "/"
        if absolute.startswith(root):
            file = absolute[len(root) :]
    line = spec.get("line")
    return f"{file}:{line}" if line else file


def parse_junit_xml(text: str) -> SuiteReport:
    """Every testcase of a JUnit XML report (<testsuites> or a lone <testsuite>).

    Surefire-style `flakyFailure`/`flakyError` children on a passing case mark it flaky (it failed, then passed
    on a rerun); `rerunFailure`/`rerunError` add attempts to a case that failed every time.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise ReportError(f"not well-formed XML: {err}") from err
    if root.tag not in ("testsuites", "testsuite"):
        raise ReportError(f"not a JUnit report: root element is <{root.tag}>")
    cases = [_junit_case(case) for case in root.iter("testcase")]
    suites = [root] if root.tag == "testsuite" else root.findall(".//testsuite")
    declared: dict[str, int] = {}
    for key in ("tests", "failures", "errors", "skipped"):
        values = [_int(suite.get(key)) for suite in suites]
        if root.tag == "testsuites" and root.get(key) is not None:
            declared[key] = _int(root.get(key))
        elif values and all(value is not None for value in values):
            declared[key] = sum(values)  # type: ignore[arg-type]
    times = [_float(suite.get("time")) for suite in suites]
    duration = _float(root.get("time")) if root.get("time") else sum(t for t in times if t is not None) or None
    return SuiteReport(format="junit-xml", cases=cases, duration_seconds=duration, declared=declared)


def _junit_case(case: ET.Element) -> CaseOutcome:
    classname, name = case.get("classname") or "", case.get("name") or "?"
    failures = [child for child in case if child.tag in ("failure", "error")]
    flaky = [child for child in case if child.tag in ("flakyFailure", "flakyError")]
    reruns = [child for child in case if child.tag in ("rerunFailure", "rerunError")]
    if failures:
        result: CaseResult = "failed"
    elif case.find("skipped") is not None:
        result = "skipped"
    elif flaky:
        result = "flaky"
    else:
        result = "passed"
    messages = []
    for child in [*failures, *reruns, *flaky]:
        message = clean_message(child.get("message") or (child.text or "").strip() or child.tag)
        if message not in messages:
            messages.append(message)
    file, line = case.get("file"), case.get("line")
    location = f"{file}:{line}" if file and line else file or classname or name
    return CaseOutcome(
        title=f"{classname} > {name}" if classname else name,
        location=location,
        result=result,
        attempts=1 + len(flaky) + len(reruns),
        messages=messages,
    )


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
