"""Failure classification: release blocker, environment drift, local instability, from a run and its report."""

import pytest

from pc_release.preflight.classify import drift_signature, judge_command
from pc_release.preflight.models import CaseOutcome, CommandResult, SuiteReport
from pc_release.release_config import DEFAULT_ENVIRONMENT_DRIFT_SIGNATURES as SIGNATURES


def run(exit_code=0, output="", **fields) -> CommandResult:
    return CommandResult(command=["check"], cwd=".", workdir="/w", exit_code=exit_code, output=output, **fields)


def case(result, *messages, title="suite > test", attempts=1) -> CaseOutcome:
    return CaseOutcome(title=title, location="e2e/a.spec.js:7", result=result, attempts=attempts, messages=messages)


def report(*cases, errors=()) -> SuiteReport:
    return SuiteReport(format="playwright-json", cases=list(cases), errors=list(errors))


LAUNCH = "browserType.launch: Failed to launch chromium because executable doesn't exist at /opt/none"
ASSERT = "expect(received).toBe(expected)\nExpected: 403\nReceived: 200"


@pytest.mark.parametrize(
    ("result", "parsed", "problem", "classification", "reason_has"),
    [
        (run(0), report(case("passed"), case("skipped")), None, None, "1 test(s) passed, 1 skipped"),
        (run(0), None, None, None, "exited 0"),
        (run(1), report(case("failed", ASSERT, attempts=2)), None, "release_blocker", "failed on every attempt"),
        (run(1), report(case("failed", LAUNCH), case("failed", LAUNCH)), None, "environment_drift", "2 test(s)"),
        # A real assertion failure is not excused by other tests' drift.
        (run(1), report(case("failed", LAUNCH), case("failed", ASSERT)), None, "release_blocker", "1 test(s)"),
        (run(0), report(case("passed"), case("flaky", ASSERT, attempts=2)), None, "local_instability", "flaky"),
        # Flakiness is reported, but a reproducible failure in the same run outranks it.
        (run(1), report(case("flaky", ASSERT), case("failed", ASSERT)), None, "release_blocker", "every attempt"),
        (
            run(1),
            report(errors=["Error: Timed out waiting 20000ms from config.webServer."]),
            None,
            "environment_drift",
            "outside any test",
        ),
        (run(1), report(errors=["SyntaxError: Unexpected token '}'"]), None, "release_blocker", "error(s) outside"),
        (run(2, "Cannot find module '@playwright/test'"), None, "no report", "environment_drift", "drift signature"),
        (run(1, "urlopen error [Errno 111] Connection refused"), None, None, "environment_drift", "drift signature"),
        (run(3, "Traceback: KeyError 'id'"), None, None, "release_blocker", "exited 3"),
        (run(0), None, "no playwright-json report at r.json", "release_blocker", "report: no playwright-json"),
        (run(1), report(case("passed")), None, "release_blocker", "exited 1"),
        (run(None, timed_out=True, timeout_seconds=30), None, None, "environment_drift", "within 30s"),
        (run(None, "cannot execute 'npx'", started=False), None, None, "environment_drift", "could not be started"),
    ],
)
def test_judgement(result, parsed, problem, classification, reason_has):
    judged = judge_command(result, parsed, problem, SIGNATURES)
    assert judged.passed is (classification is None)
    assert judged.classification == classification
    assert reason_has in judged.reason
    assert "\n" not in judged.reason


def test_signatures_are_the_repositorys_own():
    failing = report(case("failed", "docker: Cannot connect to the Docker daemon at unix:///var/run/docker.sock"))
    assert judge_command(run(1), failing, None, SIGNATURES).classification == "environment_drift"
    assert judge_command(run(1), failing, None, [r"ECONNREFUSED"]).classification == "release_blocker"
    custom = judge_command(run(1), report(case("failed", "MAAS lease expired")), None, [r"MAAS lease"])
    assert custom.classification == "environment_drift" and custom.signature == "MAAS lease"


TIMEOUT_TO_LOCALHOST = r"(?i)time(d)? ?out\b.*\b(localhost|127\.0\.0\.1)\b"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Error: connect ECONNREFUSED 127.0.0.1:5173", "ECONNREFUSED"),
        ("The connection to the server 127.0.0.1:6443 was refused", r"The connection to the server \S+ was refused"),
        ("Unable to connect to the server: dial tcp", "Unable to connect to the server"),
        ("page.goto: Timeout 15000ms exceeded navigating to http://localhost:3000/", TIMEOUT_TO_LOCALHOST),
        ("request timed out talking to 127.0.0.1:8080", TIMEOUT_TO_LOCALHOST),
        ("Timeout 5000ms exceeded waiting for getByRole('alert')", None),
        ("Expected: 403 Received: 200", None),
    ],
)
def test_default_drift_signatures(text, expected):
    assert drift_signature([text], SIGNATURES) == expected


def test_a_green_sharded_report_is_not_a_passed_suite():
    sharded = SuiteReport(format="playwright-json", cases=[case("passed")], shard="2/3")
    judged = judge_command(run(0), sharded, None, SIGNATURES)
    assert (judged.passed, judged.classification) == (False, "environment_drift")
    assert "shard 2/3 of the suite only" in judged.reason
    assert judged.evidence["report_shard"] == "2/3"
    # A test that failed on every attempt is still a release blocker, whichever shard it ran in.
    broken = SuiteReport(format="playwright-json", cases=[case("failed", ASSERT)], shard="2/3")
    assert judge_command(run(1), broken, None, SIGNATURES).classification == "release_blocker"
