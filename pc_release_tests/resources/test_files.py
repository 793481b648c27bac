"""ReleaseFilesResource: atomic candidate env and the one-promotion-at-a-time lock."""

import json
import subprocess
import threading

import pytest

from pc_release.errors import InvalidInput, PromotionBlocked
from pc_release.resources.files import LOCK_FILE, ReleaseFilesResource, parse_env, render_env


@pytest.mark.parametrize(
    "values",
    [
        {"A": "plain", "B": "with space", "C": "", "D": 'quote"inside', "E": "https://gl/x/-/pipelines/1"},
        {"PLATFORM_CONTROL_RELEASE_SHA": "a" * 40},
    ],
)
def test_env_round_trip(values):
    assert parse_env(render_env(values)) == values


def test_env_refuses_multiline_values():
    with pytest.raises(InvalidInput):
        render_env({"A": "two\nlines"})


def test_candidate_written_atomically_with_hash(tmp_path):
    files = ReleaseFilesResource(dist_dir=str(tmp_path / "dist"))
    candidate = files.write_candidate({"PLATFORM_CONTROL_RELEASE_SHA": "a" * 40, "X": "1"})
    assert files.read_candidate()["PLATFORM_CONTROL_RELEASE_SHA"] == "a" * 40
    assert len(candidate.content_sha256) == 64
    assert [p.name for p in (tmp_path / "dist").iterdir()] == ["platform-control-release-candidate.env"]


def test_lock_refuses_while_holder_runs_and_is_taken_over_after(tmp_path):
    files = ReleaseFilesResource(dist_dir=str(tmp_path))
    running = {"run-a"}
    files.acquire_promotion_lock("run-a", "sha-a", lambda run: run not in running)
    with pytest.raises(PromotionBlocked) as err:
        files.acquire_promotion_lock("run-b", "sha-b", lambda run: run not in running)
    assert err.value.rule == "promotion-in-progress" and "run-a" in str(err.value)
    running.clear()  # run-a died or failed without releasing: its lock is stale
    files.acquire_promotion_lock("run-b", "sha-b", lambda run: run not in running)
    files.release_promotion_lock("run-a")  # not the holder: no effect
    running.add("run-b")
    with pytest.raises(PromotionBlocked):
        files.acquire_promotion_lock("run-c", "sha-c", lambda run: run not in running)
    files.release_promotion_lock("run-b")
    files.acquire_promotion_lock("run-c", "sha-c", lambda run: False)


def test_lock_admits_exactly_one_of_many_threads(tmp_path):
    files = ReleaseFilesResource(dist_dir=str(tmp_path))
    winners, barrier = [], threading.Barrier(16)

    def contend(name):
        barrier.wait()
        try:
            files.acquire_promotion_lock(name, name, lambda run: False)
            winners.append(name)
        except PromotionBlocked:
            pass

    threads = [threading.Thread(target=contend, args=(f"run-{i}",)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def test_lock_whose_pid_went_to_another_process_is_taken_over_while_its_run_looks_unfinished(tmp_path):
    """A run killed outright stays "started" in Dagster; the pid its lock names may be a new process's by now."""
    files = ReleaseFilesResource(dist_dir=str(tmp_path))
    files.acquire_promotion_lock("killed-run", "a" * 40, lambda run: False)
    lock = tmp_path / LOCK_FILE
    with subprocess.Popen(["sleep", "600"]) as other:
        lock.write_text(json.dumps(json.loads(lock.read_text()) | {"pid": other.pid}))
        try:
            assert files.acquire_promotion_lock("next-run", "b" * 40, lambda run: False) == "killed-run"
        finally:
            other.kill()
    assert json.loads(lock.read_text())["run_id"] == "next-run"
