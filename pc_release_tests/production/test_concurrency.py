"""Twenty promotions of twenty different SHAs launched at once against one PostgreSQL-backed instance.

Two deployments, two guards. On one host (UI, sensor and CLI share the clone and its dist dir) the promotion
lock refuses every launch but the first. Scaled out (a run pod or an operator laptop each, own clone, own
dist dir) nothing local is shared, and the lease on the release branch lets exactly one push through.
"""

from pathlib import Path

import pytest

from pc_release.reporting import summarize_run
from pc_release.resources.files import CANDIDATE_FILE, parse_env
from pc_release.sandbox.gitlab_server import connect_clone
from pc_release_tests.conftest import GIT_TOKEN_VARIABLE, TOKEN
from pc_release_tests.gitworld import git
from pc_release_tests.production.launches import Launch, launch_at_once
from pc_release_tests.production.leaks import find_leaks
from pc_release_tests.production.observe import green_master, record_ref_updates, release_branch_updates
from pc_release_tests.promotion_harness import release_pipelines

LAUNCHES = 20


@pytest.mark.parametrize(
    ("deployment", "losing_rule", "losing_words"),
    [
        ("single-host", "promotion-in-progress", "promotion in progress"),
        ("scale-out", "release-branch-lease", "moved while promoting"),
    ],
)
def test_twenty_simultaneous_promotions_move_the_branch_once(
    world, gitlab_server, postgres, pg_instance, production_home, tmp_path, deployment, losing_rule, losing_words
):
    shas = [world.commit(f"change {n}") for n in range(LAUNCHES)]
    world.push("master")
    green_master(gitlab_server, shas)
    record_ref_updates(world)
    before = world.release_sha()

    launches = []
    for n, sha in enumerate(shas):
        if deployment == "single-host":
            repo, dist = world.clone, tmp_path / "dist"
        else:
            repo, dist = tmp_path / f"clone-{n}", tmp_path / f"dist-{n}"
            git(tmp_path, "clone", "-q", str(world.origin), str(repo))
            connect_clone(repo, "origin", gitlab_server.repository_url, GIT_TOKEN_VARIABLE)
        launches.append(
            Launch(
                source_ref=sha,
                repo_path=str(repo),
                dist_dir=str(dist),
                gitlab_url=gitlab_server.url,
                dagster_home=str(production_home),
                result_path=str(tmp_path / f"result-{n}.json"),
                # The forkserver's environment is whatever it was when it started: pass what the run reads.
                env={"PC_RELEASE_GITLAB_TOKEN": TOKEN, **postgres.env},
            )
        )

    outcomes = launch_at_once(launches)

    assert all("run_id" in outcome for outcome in outcomes), outcomes
    winners = [n for n, outcome in enumerate(outcomes) if outcome["success"]]
    assert len(winners) == 1, outcomes
    (winner,) = winners
    assert world.release_sha() == shas[winner]
    for n, outcome in enumerate(outcomes):
        if n == winner:
            continue
        summary = summarize_run(pg_instance, outcome["run_id"])
        assert summary.failed_rules == [losing_rule], summary.text
        assert losing_words in summary.text
    # No update lost: the branch moved once, from the value every launch read, to the winner's SHA.
    assert release_branch_updates(world) == [(before, shas[winner])]
    (pipeline,) = release_pipelines(gitlab_server)
    assert pipeline["sha"] == shas[winner]
    winner_dist = Path(launches[winner].dist_dir)
    assert parse_env((winner_dist / CANDIDATE_FILE).read_text())["PLATFORM_CONTROL_RELEASE_SHA"] == shas[winner]
    if deployment == "scale-out":
        assert not any(
            (Path(launch.dist_dir) / CANDIDATE_FILE).exists() for launch in launches if launch is not launches[winner]
        )
    run_ids = [outcome["run_id"] for outcome in outcomes]
    assert find_leaks([TOKEN], instances=[pg_instance], run_ids=run_ids, dirs=[tmp_path, world.clone.parent]) == []


SAME_SHA_LAUNCHES = 6


def test_six_clones_promoting_one_sha_at_once_record_one_push(
    world, gitlab_server, postgres, pg_instance, production_home, tmp_path
):
    sha = world.commit("the change everyone promotes")
    world.push("master")
    green_master(gitlab_server, [sha])
    record_ref_updates(world)
    before = world.release_sha()
    launches = []
    for n in range(SAME_SHA_LAUNCHES):
        repo = tmp_path / f"clone-{n}"
        git(tmp_path, "clone", "-q", str(world.origin), str(repo))
        connect_clone(repo, "origin", gitlab_server.repository_url, GIT_TOKEN_VARIABLE)
        launches.append(
            Launch(
                source_ref=sha,
                repo_path=str(repo),
                dist_dir=str(tmp_path / f"dist-{n}"),
                gitlab_url=gitlab_server.url,
                dagster_home=str(production_home),
                result_path=str(tmp_path / f"result-{n}.json"),
                env={"PC_RELEASE_GITLAB_TOKEN": TOKEN, **postgres.env},
            )
        )

    outcomes = launch_at_once(launches)

    # The branch ends where every launch wanted it, so none of them lost anything: all converge.
    assert all(outcome.get("success") for outcome in outcomes), outcomes
    pushed = [
        summarize_run(pg_instance, outcome["run_id"]).metadata.get("release_branch", {}).get("pushed")
        for outcome in outcomes
    ]
    # But only the one whose push moved the branch says it pushed.
    assert pushed.count(True) == 1, pushed
    assert release_branch_updates(world) == [(before, sha)]
