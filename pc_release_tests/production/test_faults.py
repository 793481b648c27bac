"""Promotions against a failing GitLab, and promotions killed with SIGKILL at each step, then re-run."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import yaml

from pc_release import cli
from pc_release.errors import PromotionBlocked
from pc_release.resources.files import CANDIDATE_FILE, LOCK_FILE, ReleaseFilesResource, parse_env
from pc_release.sandbox.gitlab_server import SandboxGitLab, connect_clone
from pc_release.sandbox.sample import create_sample_origin
from pc_release_tests.conftest import GIT_TOKEN_VARIABLE, TOKEN
from pc_release_tests.gitworld import GitWorld, git
from pc_release_tests.production.gitlab_proxy import GitLabProxy
from pc_release_tests.production.launches import take_lock_in_child_process
from pc_release_tests.production.leaks import find_leaks
from pc_release_tests.production.observe import (
    green_master,
    record_ref_updates,
    release_branch_updates,
    release_pipelines_with_variables,
)
from pc_release_tests.promotion_harness import PROJECT, promote, release_pipelines

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_promotions_complete_through_a_gitlab_failing_a_third_of_requests(world, gitlab_server, instance):
    shas = [world.commit(f"change {n}") for n in range(3)]
    world.push("master")
    green_master(gitlab_server, shas)
    gitlab_server.reset_request_log()
    # 5xx and 429 (with Retry-After: 1) answers and 0.3 s stalls, on 30% of the API requests.
    gitlab_server.set_faults(rate=0.3, kinds=("502", "503", "429", "slow"), seed=20, retry_after=1)

    outcomes = [promote(world, gitlab_server.url, instance, config={"source_ref": sha}) for sha in shas]
    gitlab_server.set_faults(rate=0.0)
    flaky_requests = len(gitlab_server.request_log)

    for outcome in outcomes:
        assert outcome.success, outcome.summary.text
    pipelines = release_pipelines_with_variables(gitlab_server)
    assert [p["sha"] for p in pipelines] == shas
    assert len({p["variables"]["PC_RELEASE_REQUEST_ID"] for p in pipelines}) == 3
    assert world.release_sha() == shas[-1]
    # A fourth promotion against a healthy GitLab takes fewer requests than a third of those: faults were hit.
    healthy = world.commit("change 3")
    world.push("master")
    green_master(gitlab_server, [healthy])
    gitlab_server.reset_request_log()
    assert promote(world, gitlab_server.url, instance, config={"source_ref": healthy}).success
    assert flaky_requests > 3 * len(gitlab_server.request_log)
    assert find_leaks([TOKEN], instances=[instance], dirs=[world.clone.parent]) == []


def test_pipeline_created_but_answer_lost_is_found_not_duplicated(world, gitlab_server, instance):
    """A proxy drops GitLab's answer to the create call after GitLab acted on it (a 502 from a load balancer)."""
    sha = world.commit("change")
    world.push("master")
    green_master(gitlab_server, [sha])
    dropped = []

    def drop_first_create(method: str, path: str, headers: dict):
        if method == "POST" and path.endswith("/pipeline") and not dropped:
            dropped.append(path)
            return ("lost", 502)
        return None

    with GitLabProxy(gitlab_server.url, drop_first_create) as proxy:
        out = promote(world, proxy.url, instance, config={"source_ref": sha})

    assert out.success, out.summary.text
    assert dropped
    (pipeline,) = release_pipelines(gitlab_server)
    assert pipeline["sha"] == sha
    assert out.summary.metadata["release_pipeline"]["pipeline_id"] == pipeline["id"]
    assert out.summary.metadata["release_pipeline"]["created"] is False


def test_lock_taken_by_a_step_process_holds_while_its_run_process_lives(tmp_path):
    """Runs launched from the UI, a sensor or the queue execute each step in a child process that exits with
    its step; the promotion lock must keep refusing others until the run itself ends."""
    take_lock_in_child_process(str(tmp_path), "launched-run")
    files = ReleaseFilesResource(dist_dir=str(tmp_path))
    with pytest.raises(PromotionBlocked, match="promotion in progress: run launched-run"):
        files.acquire_promotion_lock("cli-run", "1" * 40, holder_finished=lambda run_id: False)
    # Once Dagster records the launched run as ended, the next promotion takes the lock over.
    assert files.acquire_promotion_lock("cli-run", "1" * 40, holder_finished=lambda run_id: True) is None


def cli_environment(monkeypatch, world: GitWorld, gitlab_url: str, tmp_path: Path) -> tuple[Path, Path]:
    """What `pc-release` reads, set for this process and the ones it starts: (DAGSTER_HOME, dist dir)."""
    home, dist = tmp_path / "dagster-home", tmp_path / "dist"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {
        "DAGSTER_HOME": str(home),
        "PC_RELEASE_REPO_PATH": str(world.clone),
        "PC_RELEASE_DIST_DIR": str(dist),
        "PC_RELEASE_GITLAB_URL": gitlab_url,
        "PC_RELEASE_GITLAB_PROJECT": PROJECT,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return home, dist


@dataclass(frozen=True)
class Killed:
    pid: int
    output: str


def kill_at(step: str, sha: str) -> Killed:
    """A promotion of `sha` in a process of its own, SIGKILLed at `step` (see kill_at_step.py)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pc_release_tests.production.kill_at_step", step, sha],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output, _ = process.communicate(timeout=180)
    assert process.returncode == -signal.SIGKILL, output[-3000:]
    return Killed(pid=process.pid, output=output)


STEPS = ["after-resolve", "after-push", "after-candidate", "after-trigger"]


@pytest.mark.parametrize("step", STEPS)
def test_promotion_killed_at_a_step_converges_when_rerun(world, gitlab_server, tmp_path, monkeypatch, capsys, step):
    sha = world.commit("change to promote")
    world.push("master")
    green_master(gitlab_server, [sha])
    record_ref_updates(world)
    before = world.release_sha()
    home, dist = cli_environment(monkeypatch, world, gitlab_server.url, tmp_path)

    killed = kill_at(step, sha)
    assert (dist / LOCK_FILE).exists()  # the crash left the promotion lock behind
    assert (world.release_sha() == sha) == (step != "after-resolve")
    assert len(release_pipelines(gitlab_server)) == (1 if step == "after-trigger" else 0)

    exit_code = cli.main(["promote", sha])
    rerun = capsys.readouterr()

    assert exit_code == 0, rerun.out + rerun.err
    assert world.release_sha() == sha
    assert release_branch_updates(world) == [(before, sha)]
    (pipeline,) = release_pipelines(gitlab_server)
    assert pipeline["sha"] == sha
    records = sorted(path.name for path in dist.iterdir() if "candidate" in path.name)
    assert records == [CANDIDATE_FILE]
    assert parse_env((dist / CANDIDATE_FILE).read_text())["PLATFORM_CONTROL_RELEASE_SHA"] == sha
    assert not (dist / LOCK_FILE).exists()
    # The killed run no longer shows as in progress (it would hold the run queue's one promotion slot).
    with dg.DagsterInstance.from_config(str(home)) as instance:
        statuses = sorted(run.status.value for run in instance.get_runs())
        texts = [("killed run", killed.output), ("re-run", rerun.out + rerun.err)]
        leaks = find_leaks([TOKEN], instances=[instance], texts=texts, dirs=[tmp_path, world.clone.parent])
    assert statuses == ["FAILURE", "SUCCESS"]
    assert leaks == []


def test_lock_of_a_killed_promotion_whose_pid_went_to_another_process_is_taken_over(
    world, gitlab_server, tmp_path, monkeypatch, capsys
):
    """The kernel hands a dead process's pid to a later process: the lock it left must not refuse for ever."""
    sha = world.commit("change to promote")
    world.push("master")
    green_master(gitlab_server, [sha])
    home, dist = cli_environment(monkeypatch, world, gitlab_server.url, tmp_path)
    kill_at("after-resolve", sha)
    lock = dist / LOCK_FILE

    with subprocess.Popen(["sleep", "600"]) as other:
        try:
            # The killed promotion's pid, as the kernel would hand it on, now belongs to a live process.
            lock.write_text(json.dumps(json.loads(lock.read_text()) | {"pid": other.pid}))
            exit_code = cli.main(["promote", sha])
        finally:
            other.kill()
    rerun = capsys.readouterr()

    assert exit_code == 0, rerun.out + rerun.err
    assert world.release_sha() == sha
    assert not lock.exists()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert sorted(run.status.value for run in instance.get_runs()) == ["FAILURE", "SUCCESS"]


@pytest.fixture
def private_tmp(monkeypatch):
    """A temp dir of this test's own, for what pc-release keeps in the temp dir (worktrees, throwaway
    PostgreSQL), open to the user the throwaway server runs as."""
    path = Path(tempfile.mkdtemp(prefix="pc-faults-"))
    path.chmod(0o755)
    monkeypatch.setenv("TMPDIR", str(path))
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def running(pid: int) -> bool:
    """Alive and not a zombie waiting for its (re-)parent to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def still_running(pids: list[int], patience: float = 60.0) -> list[int]:
    """Those of `pids` still running after `patience` seconds to go: the processes of a killed run are killed
    by another process, a moment after it died."""
    deadline = time.monotonic() + patience
    while (alive := [pid for pid in pids if running(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# One child in the command's process group, one in a session of its own (as Playwright starts its browser and
# its web server). The killed run waits for them; the re-run leaves them running as it exits.
STARTS_CHILDREN = """\
sleep 600 & echo $! >> "$PREFLIGHT_PIDS"
mkfifo up; setsid bash -c 'echo $$ > up; exec sleep 600' & read pid < up; echo $pid >> "$PREFLIGHT_PIDS"
if [ -n "${PREFLIGHT_READY:-}" ]; then echo started > "$PREFLIGHT_READY"; wait; fi
"""


def test_promotion_killed_during_the_preflight_takes_what_it_started_along_and_the_rerun_removes_its_worktree(
    world, gitlab_server, tmp_path, private_tmp, monkeypatch, capsys
):
    check = {"command": ["bash", "-c", STARTS_CHILDREN], "timeout_seconds": 120, "report": {"format": "exit-code"}}
    config = yaml.safe_dump({"preflight": {"checks": {"role_authz_smoke": check}}})
    sha = world.commit("preflight that starts processes", {".pc-release.yaml": config})
    world.push("master")
    green_master(gitlab_server, [sha])
    cli_environment(monkeypatch, world, gitlab_server.url, tmp_path)
    pids = tmp_path / "preflight.pids"
    monkeypatch.setenv("PREFLIGHT_PIDS", str(pids))

    kill_at("in-preflight", sha)
    started = [int(pid) for pid in pids.read_text().split()]
    try:
        assert len(started) == 2
        assert still_running(started) == []
        # The killed run's worktree is still checked out and registered in the clone.
        assert git(world.clone, "worktree", "list", "--porcelain").count("worktree ") == 2

        exit_code = cli.main(["promote", sha])
        rerun = capsys.readouterr()
        assert exit_code == 0, rerun.out + rerun.err
        assert git(world.clone, "worktree", "list", "--porcelain").count("worktree ") == 1
        assert list(private_tmp.rglob(".git")) == []
        started = [int(pid) for pid in pids.read_text().split()]
        assert len(started) == 4
        assert still_running(started) == []
    finally:
        kill_all(started)


def test_promotion_killed_while_its_throwaway_postgresql_serves_leaves_nothing_once_rerun(
    tmp_path, private_tmp, monkeypatch, capsys
):
    origin, clone = create_sample_origin(tmp_path / "sample")
    world = GitWorld(origin=origin, clone=clone, other=tmp_path / "other")
    git(clone, "config", "user.email", "dev@example.test")
    git(clone, "config", "user.name", "Dev Eloper")
    sha = world.commit("change to promote")
    world.push("master")
    monkeypatch.setenv("PLATFORM_CONTROL_SKIP_LOCAL_PREFLIGHT", "true")
    with SandboxGitLab(origin=origin, token=TOKEN) as server:
        connect_clone(clone, "origin", server.repository_url, GIT_TOKEN_VARIABLE)
        green_master(server, [sha])
        cli_environment(monkeypatch, world, server.url, tmp_path)

        kill_at("in-readiness", sha)
        (left,) = private_tmp.glob("pc-release-postgres-*")
        postmaster = [int((left / "data" / "postmaster.pid").read_text().split()[0])]
        try:
            assert running(postmaster[0])
            exit_code = cli.main(["promote", sha])
            rerun = capsys.readouterr()
            assert exit_code == 0, rerun.out + rerun.err
            assert world.release_sha() == sha
            assert still_running(postmaster) == []
            assert list(private_tmp.glob("pc-release-postgres-*")) == []
        finally:
            kill_all(postmaster)
