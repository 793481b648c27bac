"""The parallel preflight runner: every check in its own thread, judged, with set-up failures classified."""

import sys
import threading

import pytest

from pc_release.errors import GitOperationError, InvalidInput
from pc_release.models import PreflightCheck
from pc_release.preflight.models import CommandResult
from pc_release.preflight.runner import command_check, plan_checks, run_parallel
from pc_release.release_config import CommandCheck, PreflightConfig, ReportSpec
from pc_release.resources.commands import CommandRunnerResource
from pc_release_tests.gitworld import git


def test_checks_run_at_the_same_time():
    # Each check waits for the other two: run one after another, the barrier would break instead.
    barrier = threading.Barrier(3, timeout=30)

    def check(name):
        def task():
            barrier.wait()
            return PreflightCheck(name=name, status="passed", reason=threading.current_thread().name)

        return task

    results = run_parallel({name: check(name) for name in ("a", "b", "c")})
    assert [r.name for r in results] == ["a", "b", "c"]
    assert len({r.reason for r in results}) == 3


def test_a_check_that_cannot_be_set_up_is_environment_drift():
    def broken():
        raise GitOperationError("git worktree add failed: disk full", rule="preflight-worktree")

    [result] = run_parallel({"playwright_e2e": broken})
    assert (result.status, result.classification) == ("failed", "environment_drift")
    assert "disk full" in result.reason and result.evidence["error_rule"] == "preflight-worktree"


def test_a_refused_release_config_stops_the_preflight_naming_the_rule():
    def outside():
        raise InvalidInput("working directory '../..' must stay inside the repository", rule="preflight-config")

    with pytest.raises(InvalidInput) as err:
        run_parallel({"role_authz_smoke": outside})
    assert err.value.rule == "preflight-config"


def test_command_checks_rendezvous_across_worktrees(tmp_path):
    # Two real commands in two worktrees, each waiting for the other's flag file: proof they overlap.
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "master")
    git(repo, "-c", "user.name=d", "-c", "user.email=d@x", "commit", "-q", "--allow-empty", "-m", "empty")
    sha = git(repo, "rev-parse", "HEAD")
    flags = tmp_path / "flags"
    flags.mkdir()

    def waits_for(mine: str, other: str) -> CommandCheck:
        code = (
            "import pathlib, sys, time; d = pathlib.Path(sys.argv[1]); (d / sys.argv[2]).touch(); "
            "deadline = time.time() + 30\n"
            "while not (d / sys.argv[3]).exists():\n"
            "    assert time.time() < deadline, 'the other check never started'\n"
            "    time.sleep(0.05)"
        )
        return CommandCheck(command=[sys.executable, "-c", code, str(flags), mine, other], timeout_seconds=60)

    config = PreflightConfig(
        checks={"playwright_e2e": waits_for("e2e", "smoke"), "role_authz_smoke": waits_for("smoke", "e2e")}
    )
    runner = CommandRunnerResource()

    def run_command(spec, extra_env, collect):
        return runner.run_in_worktree(repo, sha, spec.command, env=extra_env, timeout=spec.timeout_seconds)

    tasks = plan_checks(config, run_command=run_command, read_file=lambda path: None, live=None, scope=None)
    e2e, smoke, parity = run_parallel(tasks)
    assert (e2e.status, smoke.status) == ("passed", "passed"), (e2e.output_tail, smoke.output_tail)
    assert parity.name == "kind_parity" and parity.classification == "release_blocker"
    assert "no kustomization.yaml" in parity.reason


def test_scope_narrows_only_the_e2e_check_through_the_configured_variable():
    seen = {}

    def run_command(spec, extra_env, collect):
        seen[spec.command[0]] = (extra_env, collect)
        return CommandResult(command=spec.command, cwd=".", workdir="/w", exit_code=0)

    config = PreflightConfig(
        checks={
            "playwright_e2e": CommandCheck(command=["e2e"]),
            "role_authz_smoke": CommandCheck(
                command=["smoke"], report=ReportSpec(format="junit-xml", path="dist/smoke.xml")
            ),
        },
        scoped_grep_env="E2E_GREP",
    )
    tasks = plan_checks(config, run_command=run_command, read_file=lambda p: None, live=None, scope="audit log")
    e2e, smoke, _ = run_parallel(tasks)
    assert seen == {"e2e": ({"E2E_GREP": "audit log"}, []), "smoke": ({}, ["dist/smoke.xml"])}
    assert (e2e.scope, smoke.scope) == ("audit log", None)
    # The smoke exited 0 but wrote no report: no evidence is not a pass.
    assert (smoke.status, smoke.classification) == ("failed", "release_blocker")
    assert smoke.evidence["report_problem"] == "no junit-xml report at dist/smoke.xml"


def test_command_check_carries_counts_tests_and_evidence():
    junit = (
        '<testsuite tests="2" failures="1"><testcase classname="smoke" name="ok"/>'
        '<testcase classname="smoke" name="viewer_denied"><failure message="GET as victor answered 200"/></testcase>'
        "</testsuite>"
    )
    spec = CommandCheck(command=["smoke"], report=ReportSpec(format="junit-xml", path="r.xml"))
    result = CommandResult(
        command=["smoke"], cwd=".", workdir="/w", exit_code=1, output="FAIL viewer_denied\n", files={"r.xml": junit}
    )
    check = command_check("role_authz_smoke", spec, result, [], None)
    assert (check.status, check.classification, check.exit_code) == ("failed", "release_blocker", 1)
    assert check.counts == {"passed": 1, "failed": 1, "flaky": 0, "skipped": 0}
    assert [(t.title, t.message) for t in check.failing_tests] == [
        ("smoke > viewer_denied", "GET as victor answered 200")
    ]
    assert check.evidence["report_declares"] == ["tests=2", "failures=1"]
    assert check.output_tail == "FAIL viewer_denied\n"
