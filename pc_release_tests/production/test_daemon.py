"""The daemon path end to end: `dagster-daemon run` on PostgreSQL, auto-promotion on, the sandbox GitLab.

A master push goes green; master_ci_sensor (ticking in the daemon) requests its promotion; the run waits in the
queue, starts in a process of its own (the default run launcher), clones the repository over GitLab's HTTP URL
into its cache, pushes and triggers; release_pipeline_sensor writes the record once the pipeline ends. A second
commit going green while the first promotes is queued behind it, then promoted, once.
"""

from __future__ import annotations

import re
import threading

import dagster as dg
import pytest

from pc_release.defs.pipeline.record import RECORD_FILE
from pc_release.sandbox.gitlab_server import SandboxGitLab
from pc_release_tests.conftest import TOKEN, _wait_for
from pc_release_tests.pipeline.harness import history, meta
from pc_release_tests.production.daemon import (
    base_env,
    fresh_database,
    production_home,
    running_daemon,
    running_webserver,
    start_sensor,
)
from pc_release_tests.production.gitlab_proxy import GitLabProxy
from pc_release_tests.production.leaks import find_leaks
from pc_release_tests.production.observe import record_ref_updates, release_branch_updates
from pc_release_tests.promotion_harness import release_pipelines

PROJECT = "platform/platform-control"
SHA_TAG = "pc-release/source-sha"
# Waits long enough for a daemon's start on a loaded machine; the test takes what the work takes.
START_TIMEOUT = 240.0
STEP_TIMEOUT = 180.0


# Below GitLabResource's 30 s request timeout: a POST held longer would be retried by the promotion while this one
# still waits to be forwarded, and both would create a pipeline.
HOLD_SECONDS = 25.0


class TriggerHold:
    """Holds the first release pipeline POST until released (at most HOLD_SECONDS): the first promotion is then
    still in progress (pushed, not yet triggered) while the test makes a second commit green."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.released = threading.Event()
        self._held = False

    def __call__(self, method: str, path: str, headers: dict[str, str]):
        if method == "POST" and path.endswith("/pipeline") and not self._held:
            self._held = True
            self.arrived.set()
            self.released.wait(HOLD_SECONDS)
        return None


def master_pipeline(server, sha):
    return next((p for p in server.pipelines() if p["ref"] == "master" and p["sha"] == sha), None)


def promotions(instance) -> list[dg.DagsterRun]:
    return list(reversed(instance.get_runs(filters=dg.RunsFilter(job_name="promote_release"))))


def run_of(instance, sha):
    runs = [run for run in promotions(instance) if run.tags.get(SHA_TAG) == sha]
    return runs[0] if runs else None


def records(instance) -> dict[int, dict]:
    """Every release record by pipeline: materializations (releases) and observations (anything else)."""
    return {int(meta(record)["pipeline_id"]): meta(record) for record in history(instance, "release_record")}


@pytest.fixture
def daemon_world(world, postgres, tmp_path, monkeypatch):
    database = fresh_database(postgres)
    for name, value in database.env.items():
        monkeypatch.setenv(name, value)
    home = production_home(tmp_path / "dagster-home")
    hold = TriggerHold()
    with (
        SandboxGitLab(origin=world.origin, token=TOKEN, watch_branches=("master",)) as server,
        GitLabProxy(server.url, hold) as proxy,
    ):
        env = base_env() | database.env
        env |= {
            "PC_RELEASE_GITLAB_URL": proxy.url,  # the API through the proxy that can hold the trigger
            "PC_RELEASE_GITLAB_PROJECT": PROJECT,
            "PC_RELEASE_GITLAB_TOKEN": TOKEN,
            "PC_RELEASE_REPOSITORY_URL": server.repository_url,  # git over GitLab's smart HTTP, not a path
            "PC_RELEASE_CLONE_CACHE": str(tmp_path / "clones"),
            "PC_RELEASE_DIST_DIR": str(tmp_path / "dist"),
            "PC_RELEASE_AUTO_PROMOTION": "true",
            "PC_RELEASE_MASTER_CI_SENSOR_INTERVAL_SECONDS": "2",
            "PC_RELEASE_RELEASE_PIPELINE_SENSOR_INTERVAL_SECONDS": "2",
        }
        try:
            with (
                running_daemon(home, env, tmp_path / "daemon.log") as daemon,
                running_webserver(home, env, tmp_path / "webserver.log") as webserver,
                dg.DagsterInstance.from_config(str(home)) as instance,
            ):
                _wait_for(webserver.answers, timeout=START_TIMEOUT, interval=0.5)
                # Turned on as an operator turns them on in the UI, whatever their default status.
                for sensor in ("master_ci_sensor", "release_pipeline_sensor"):
                    assert start_sensor(webserver, sensor) == "RUNNING"
                yield world, server, instance, hold, daemon
        finally:
            hold.released.set()
    assert not daemon.group_alive(), "the daemon left processes behind"
    assert not webserver.group_alive(), "the webserver left processes behind"


def _green(server, sha, wait_for):
    pipeline = wait_for(lambda: master_pipeline(server, sha), timeout=STEP_TIMEOUT)  # GitLab starts it on push
    server.set_all_jobs_status(pipeline["id"], "success")  # its jobs pass, as a runner would report


def test_the_daemon_promotes_each_green_master_head_once_through_the_queue(daemon_world, wait_for, tmp_path):
    world, server, instance, hold, daemon = daemon_world
    record_ref_updates(world)
    before = world.release_sha()

    first = world.commit("daemon change one")
    world.push("master")
    _green(server, first, wait_for)
    assert hold.arrived.wait(START_TIMEOUT), f"no release pipeline trigger arrived:\n{daemon.tail()}"
    # The first promotion has pushed and is triggering: a second commit goes green meanwhile.
    assert world.release_sha() == first
    second = world.commit("daemon change two")
    world.push("master")
    _green(server, second, wait_for)

    def submitted():  # the sensor's run is created NOT_STARTED, then submitted to the queue
        run = run_of(instance, second)
        return run if run is not None and run.status != dg.DagsterRunStatus.NOT_STARTED else None

    queued = wait_for(submitted, timeout=STEP_TIMEOUT, interval=0.2)
    # One promotion at a time: the second waits in the queue while the first still runs.
    assert queued.status == dg.DagsterRunStatus.QUEUED
    assert run_of(instance, first).status == dg.DagsterRunStatus.STARTED
    hold.released.set()

    def finished():
        runs = [run_of(instance, first), run_of(instance, second)]
        return all(run.is_finished for run in runs) and runs

    runs = wait_for(finished, timeout=STEP_TIMEOUT, interval=0.5)
    for run in runs:
        assert run.status == dg.DagsterRunStatus.SUCCESS, daemon.tail()
        assert run.tags["dagster/sensor_name"] == "master_ci_sensor"
        assert run.tags["pc-release/trigger"] == "master_ci_sensor"
    # Each SHA promoted exactly once: one run each, the branch moved once per SHA, in order, one pipeline each.
    assert [run.tags[SHA_TAG] for run in promotions(instance)] == [first, second]
    assert release_branch_updates(world) == [(before, first), (first, second)]
    pipelines = sorted(release_pipelines(server), key=lambda p: p["id"])
    assert [p["sha"] for p in pipelines] == [first, second]

    # Each run ran in a process of its own, started by the launcher: not the daemon, not this test.
    for run in runs:
        logs = [e.message for e in instance.all_logs(run.run_id) if e.message]
        pids = {int(m.group(1)) for text in logs if (m := re.search(r"Started process for run \(pid: (\d+)\)", text))}
        assert pids and not pids & {daemon.process.pid}, logs[:5]

    for pipeline in pipelines:
        server.set_all_jobs_status(pipeline["id"], "success")
    written = wait_for(lambda: len(records(instance)) == 2 and records(instance), timeout=STEP_TIMEOUT, interval=0.5)
    assert {pid: record["sha"] for pid, record in written.items()} == {p["id"]: p["sha"] for p in pipelines}
    for pipeline in pipelines:
        assert (tmp_path / "dist" / RECORD_FILE.format(pipeline_id=pipeline["id"])).exists()

    # The provisioned clone came over HTTP with the token, which is in none of its files, nor in the event log.
    (clone,) = [path for path in (tmp_path / "clones").iterdir() if path.is_dir()]
    assert (clone / ".git").is_dir()
    run_ids = [run.run_id for run in runs]
    texts = [("daemon output", daemon.log.read_text(errors="replace"))]
    assert find_leaks([TOKEN], instances=[instance], run_ids=run_ids, texts=texts, dirs=[tmp_path / "clones"]) == []


def test_sensor_intervals_come_from_the_environment():
    import subprocess
    import sys

    from pc_release_tests.production.daemon import ROOT

    script = (
        "from pc_release.definitions import defs\n"
        "m = defs.resolve_sensor_def('master_ci_sensor')\n"
        "r = defs.resolve_sensor_def('release_pipeline_sensor')\n"
        "print(m.minimum_interval_seconds, r.minimum_interval_seconds)"
    )
    env = base_env() | {
        "PC_RELEASE_MASTER_CI_SENSOR_INTERVAL_SECONDS": "7",
        "PC_RELEASE_RELEASE_PIPELINE_SENSOR_INTERVAL_SECONDS": "3",
    }
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.stdout.split() == ["7", "3"], done.stderr
