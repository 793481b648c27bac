"""The `pc-release` command line as operators and GitLab CI run it (a real subprocess)."""

import os
import subprocess
import sys

import pytest

from pc_release_tests.conftest import TOKEN
from pc_release_tests.gitworld import RELEASE_BRANCH, git


def pc_release(*args, cwd, env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("PLATFORM_CONTROL_", "PC_RELEASE_", "CI_"))}
    full_env |= env or {}
    return subprocess.run(
        [sys.executable, "-m", "pc_release.cli", *args], cwd=cwd, env=full_env, capture_output=True, text=True
    )


def test_guard_passes_when_release_equals_a_master_commit(world):
    run = pc_release("guard", cwd=world.clone)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ok" in run.stdout


def diverge(world) -> str:
    hotfix = world.commit("release-only hotfix")
    git(world.clone, "push", "-q", "--force", "origin", f"{hotfix}:refs/heads/{RELEASE_BRANCH}")
    git(world.clone, "reset", "-q", "--hard", "HEAD~1")
    return hotfix


def test_guard_fails_on_diverged_release_branch_listing_commits(world):
    hotfix = diverge(world)
    run = pc_release("guard", cwd=world.clone)
    assert run.returncode == 2  # refused by a rule, like every other refusal
    assert hotfix in run.stdout and "release-only hotfix" in run.stdout
    assert "[release_branch_guard]" in run.stdout


def test_guard_warns_loudly_under_override(world):
    hotfix = diverge(world)
    run = pc_release("guard", cwd=world.clone, env={"PLATFORM_CONTROL_ALLOW_RELEASE_BRANCH_DIVERGENCE": "true"})
    assert run.returncode == 0
    assert "WARNING" in run.stdout and hotfix in run.stdout


def test_guard_judges_ci_commit_sha(world):
    hotfix = diverge(world)
    master = git(world.clone, "rev-parse", "origin/master")
    assert pc_release("guard", cwd=world.clone, env={"CI_COMMIT_SHA": master}).returncode == 0
    assert pc_release("guard", cwd=world.clone, env={"CI_COMMIT_SHA": hotfix}).returncode == 2


@pytest.mark.parametrize(
    ("args", "env", "rule"),
    [
        (["promote", "--upload-pack=touch pwned"], {}, None),  # argparse refuses unknown options itself
        (["promote", "--", "--upload-pack=touch pwned"], {}, "ref-syntax"),
        (["promote", "abc1234"], {}, "exact-sha"),
        (["promote", "--mode", "fast"], {}, "release-mode"),
        (["promote"], {"PLATFORM_CONTROL_RELEASE_PROFILE": "turbo"}, "release-profile"),
        (["promote"], {"PLATFORM_CONTROL_SKIP_LOCAL_PREFLIGHT": "maybe"}, "settings"),
        (["promote"], {"PC_RELEASE_GITLAB_TOKEN": ""}, "gitlab-token"),
        (["dev-test-deploy", "--mode", "full"], {}, "dev-test-mode"),
    ],
)
def test_promote_refuses_bad_input_before_anything_runs(world, tmp_path, args, env, rule):
    before = world.release_sha()
    base = {"PC_RELEASE_GITLAB_TOKEN": TOKEN, "DAGSTER_HOME": str(tmp_path), "PC_RELEASE_REPO_PATH": str(world.clone)}
    run = pc_release(*args, cwd=world.clone, env=base | env)
    assert run.returncode == 2
    if rule:
        assert f"[{rule}]" in run.stderr
        assert len(run.stderr.strip().splitlines()) == 1
    assert TOKEN not in run.stdout + run.stderr
    assert world.release_sha() == before
    assert not (world.clone / "pwned").exists()
