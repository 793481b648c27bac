"""Promotions against a failing GitLab, and promotions killed with SIGKILL at each step, then re-run."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pc_release import cli
from pc_release.errors import PromotionBlocked
from pc_release.resources.files import CANDIDATE_FILE, LOCK_FILE, ReleaseFilesResource, parse_env
from pc_release_tests.conftest import TOKEN
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


STEPS = ["after-resolve", "after-push", "after-candidate", "after-trigger"]


@pytest.mark.parametrize("step", STEPS)
def test_promotion_killed_at_a_step_converges_when_rerun(world, gitlab_server, tmp_path, monkeypatch, capsys, step):
    sha = world.commit("change to promote")
    world.push("master")
    green_master(gitlab_server, [sha])
    record_ref_updates(world)
    before = world.release_sha()
    home, dist = tmp_path / "dagster-home", tmp_path / "dist"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {
        "DAGSTER_HOME": str(home),
        "PC_RELEASE_REPO_PATH": str(world.clone),
        "PC_RELEASE_DIST_DIR": str(dist),
        "PC_RELEASE_GITLAB_URL": gitlab_server.url,
        "PC_RELEASE_GITLAB_PROJECT": PROJECT,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    killed = subprocess.run(
        [sys.executable, "-m", "pc_release_tests.production.kill_at_step", step, sha],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
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
        texts = [("killed run", killed.stdout + killed.stderr), ("re-run", rerun.out + rerun.err)]
        leaks = find_leaks([TOKEN], instances=[instance], texts=texts, dirs=[tmp_path, world.clone.parent])
    assert statuses == ["FAILURE", "SUCCESS"]
    assert leaks == []
