"""Report parsers: real Playwright JSON reports (Playwright 1.37.1) and JUnit XML, with Playwright's outcome rules."""

import json
from pathlib import Path

import pytest

from pc_release.preflight.reports import ReportError, parse_junit_xml, parse_playwright_json, parse_report

# Copies of shared/reference_data/playwright/ (real Playwright 1.37 JSON reports), so the suite runs anywhere.
REFERENCE = Path(__file__).resolve().parent / "reference_reports"


def reference(name: str) -> str:
    return (REFERENCE / name).read_text()


def tally(data: dict) -> dict[str, int]:
    """Count the report's own per-test verdicts, independently of the parser under test."""
    names = {"expected": "passed", "unexpected": "failed", "flaky": "flaky", "skipped": "skipped"}
    counts = dict.fromkeys(names.values(), 0)

    def walk(suite):
        for spec in suite.get("specs", []):
            for test in spec["tests"]:
                counts[names[test["status"]]] += 1
        for child in suite.get("suites", []):
            walk(child)

    for suite in data["suites"]:
        walk(suite)
    return counts


@pytest.mark.parametrize(
    ("name", "counts", "seconds"),
    [
        ("report-valid.pw1.37.1.json", {"passed": 10, "failed": 2, "flaky": 1, "skipped": 1}, 1.118),
        ("report-sharded.pw1.37.1.json", {"passed": 22, "failed": 1, "flaky": 1, "skipped": 3}, 5.003),
    ],
)
def test_reference_reports_count_what_the_report_says(name, counts, seconds):
    text = reference(name)
    report = parse_playwright_json(text)
    assert report.counts == counts == tally(json.loads(text))
    assert report.duration_seconds == seconds
    assert report.tool_version == "1.37.1"
    assert report.errors == []


def test_reference_report_names_failures_with_file_line_and_clean_message():
    report = parse_playwright_json(reference("report-valid.pw1.37.1.json"))
    failed = report.with_result("failed")
    assert [(c.title, c.location, c.project, c.attempts) for c in failed] == [
        ("add > adds", "add.spec.ts:9", "chromium", 5),
        ("add > adds", "add.spec.ts:9", "firefox", 5),
    ]
    message = failed[0].messages[0]
    assert "Expected: 4" in message and "Received: 3" in message
    assert "\x1b[" not in message
    flaky = report.with_result("flaky")
    assert [(c.title, c.location, c.attempts) for c in flaky] == [("multiply > multiplies", "multiply.spec.ts:9", 3)]
    assert [c.title for c in report.with_result("skipped")] == ["multiply > skips"]


def test_sharded_reference_report_trusts_the_test_verdict_over_the_spec_flag():
    # In this report the webkit test of "subtracts" failed all five attempts while its spec says ok: true.
    report = parse_playwright_json(reference("report-sharded.pw1.37.1.json"))
    assert [(c.title, c.project) for c in report.with_result("failed")] == [("subtract > subtracts", "webkit")]
    assert [(c.title, c.project) for c in report.with_result("flaky")] == [("multiply > multiplies", "firefox")]


def _report(tests: list[dict], **extra) -> str:
    spec = {"title": "t", "file": "a.spec.js", "line": 3, "tests": tests}
    return json.dumps(
        {"config": {"rootDir": "/w/frontend/e2e"}, "suites": [{"title": "a.spec.js", "specs": [spec]}]} | extra
    )


def _result(status: str, retry: int = 0, message: str = "boom") -> dict:
    result = {"status": status, "retry": retry, "duration": 5}
    if status != "passed":
        result["error"] = {"message": message}
    return result


@pytest.mark.parametrize(
    ("test", "expected"),
    [
        ({"status": "expected", "results": [_result("passed")]}, "passed"),
        ({"status": "unexpected", "results": [_result("failed"), _result("failed", 1)]}, "failed"),
        ({"status": "flaky", "results": [_result("failed"), _result("passed", 1)]}, "flaky"),
        ({"status": "skipped", "results": [_result("skipped")]}, "skipped"),
        # No test-level status: Playwright's rule applied to the attempts.
        ({"results": [_result("timedOut"), _result("passed", 1)]}, "flaky"),
        ({"results": [_result("failed"), _result("interrupted", 1)]}, "failed"),
        ({"results": [_result("passed")]}, "passed"),
        ({"results": []}, "skipped"),
        # Interrupted attempts do not count: the test ended as its counted attempts did.
        ({"results": [_result("passed"), _result("interrupted", 1)]}, "passed"),
        ({"results": [_result("interrupted")]}, "skipped"),
        # test.fail(): the test is expected to fail, so failing is the good outcome and passing the bad one.
        ({"expectedStatus": "failed", "results": [_result("failed")]}, "passed"),
        ({"expectedStatus": "failed", "results": [_result("passed")]}, "failed"),
        ({"expectedStatus": "failed", "results": [_result("passed"), _result("failed", 1)]}, "flaky"),
        ({"expectedStatus": "skipped", "results": [_result("skipped")]}, "skipped"),
    ],
)
def test_playwright_outcome_of_one_test(test, expected):
    report = parse_playwright_json(_report([{"projectName": "chromium", **test}]))
    assert [case.result for case in report.cases] == [expected]


def test_location_is_relative_to_the_repository_the_suite_ran_in():
    text = _report([{"status": "unexpected", "results": [_result("failed")]}])
    assert parse_playwright_json(text, repo_root="/w").cases[0].location == "frontend/e2e/a.spec.js:3"
    assert parse_playwright_json(text, repo_root="/elsewhere").cases[0].location == "a.spec.js:3"


def test_stats_and_suite_errors_are_kept():
    text = _report(
        [{"status": "expected", "results": [_result("passed")]}],
        stats={"expected": 1, "unexpected": 0, "flaky": 0, "skipped": 0, "duration": 1500.0},
        errors=[{"message": "\x1b[31mError: Timed out waiting 20000ms from config.webServer.\x1b[39m"}],
    )
    report = parse_playwright_json(text)
    assert report.declared == {"passed": 1, "failed": 0, "flaky": 0, "skipped": 0}
    assert report.duration_seconds == 1.5
    assert report.errors == ["Error: Timed out waiting 20000ms from config.webServer."]


@pytest.mark.parametrize(
    ("fmt", "text", "problem"),
    [
        ("playwright-json", "{not json", "not JSON"),
        ("playwright-json", json.dumps({"config": {}}), "no 'suites' list"),
        ("playwright-json", json.dumps([1, 2]), "no 'suites' list"),
        ("junit-xml", "<testsuite><testcase>", "not well-formed XML"),
        ("junit-xml", "<html><body/></html>", "root element is <html>"),
        ("tap", "ok 1", "no parser"),
    ],
)
def test_malformed_reports_are_refused_with_the_rule(fmt, text, problem):
    with pytest.raises(ReportError) as err:
        parse_report(fmt, text)
    assert err.value.rule == "preflight-report"
    assert problem in str(err.value)


JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="6" failures="1" errors="1" skipped="1" time="2.5">
  <testsuite name="role_authz_smoke" tests="6" failures="1" errors="1" skipped="1" time="2.5">
    <testcase classname="role_authz_smoke" name="admin_binds" time="0.1"/>
    <testcase classname="role_authz_smoke" name="viewer_denied" file="smoke.py" line="40" time="0.1">
      <failure message="GET as victor answered 200, expected 403">trace</failure>
    </testcase>
    <testcase classname="role_authz_smoke" name="audit_log" time="0.1">
      <error message="ConnectionRefusedError: [Errno 111] Connection refused"/>
    </testcase>
    <testcase classname="role_authz_smoke" name="later" time="0"><skipped/></testcase>
    <testcase classname="role_authz_smoke" name="retried_then_ok" time="0.3">
      <flakyFailure message="first run timed out"/>
    </testcase>
    <testcase classname="role_authz_smoke" name="always_bad" time="0.3">
      <failure message="still bad"/>
      <rerunFailure message="bad on rerun"/>
    </testcase>
  </testsuite>
</testsuites>
"""


def test_junit_cases_outcomes_and_declared_totals():
    report = parse_junit_xml(JUNIT)
    outcomes = {case.title.split(" > ")[1]: (case.result, case.attempts) for case in report.cases}
    assert outcomes == {
        "admin_binds": ("passed", 1),
        "viewer_denied": ("failed", 1),
        "audit_log": ("failed", 1),
        "later": ("skipped", 1),
        "retried_then_ok": ("flaky", 2),
        "always_bad": ("failed", 2),
    }
    assert report.counts == {"passed": 1, "failed": 3, "flaky": 1, "skipped": 1}
    assert report.declared == {"tests": 6, "failures": 1, "errors": 1, "skipped": 1}
    assert report.duration_seconds == 2.5
    denied = next(c for c in report.cases if c.title.endswith("viewer_denied"))
    assert denied.location == "smoke.py:40"
    assert denied.messages == ["GET as victor answered 200, expected 403"]


def test_a_lone_testsuite_root_is_a_junit_report():
    report = parse_junit_xml('<testsuite tests="1" time="0.5"><testcase name="only"/></testsuite>')
    assert report.counts["passed"] == 1 and report.duration_seconds == 0.5
    assert report.cases[0].title == "only"


def test_a_sharded_report_says_which_shard_it_covers():
    # The reference report of `--shard=1/2` records it in config.shard; the unsharded one has shard: null.
    assert parse_playwright_json(reference("report-valid.pw1.37.1.json")).shard == "1/2"
    assert parse_playwright_json(reference("report-sharded.pw1.37.1.json")).shard is None
    one_of_one = {"shard": {"current": 1, "total": 1}}
    whole = _report([{"status": "expected", "results": [_result("passed")]}], config=one_of_one)
    assert parse_playwright_json(whole).shard is None
