"""How `pc-release` reads refs and history, through its real entry points: ambiguous names, the guard's fetch,
shallow clones, revision syntax, oversized refs and the exit status of each outcome."""

from __future__ import annotations

import shutil

import pytest

from pc_release import cli
from pc_release.sandbox.gitlab_server import connect_clone
from pc_release_tests.conftest import GIT_TOKEN_VARIABLE, TOKEN
from pc_release_tests.gitworld import RELEASE_BRANCH, git
from pc_release_tests.production.observe import green_master, origin_refs
from pc_release_tests.promotion_harness import PROJECT, release_pipelines
from pc_release_tests.test_cli import pc_release


@pytest.fixture
def operator_env(world, gitlab_server, monkeypatch, tmp_path):
    """The environment an operator's shell gives `pc-release promote`, pointed at `clone` (the world's by default)."""

    def point_at(clone=None) -> None:
        home = tmp_path / "dagster-home"
        home.mkdir(exist_ok=True)
        for name, value in {
            "DAGSTER_HOME": str(home),
            "PC_RELEASE_REPO_PATH": str(clone or world.clone),
            "PC_RELEASE_DIST_DIR": str(tmp_path / "dist"),
            "PC_RELEASE_GITLAB_URL": gitlab_server.url,
            "PC_RELEASE_GITLAB_PROJECT": PROJECT,
        }.items():
            monkeypatch.setenv(name, value)

    point_at()
    return point_at


def candidate(tmp_path) -> dict[str, str]:
    from pc_release.resources.files import CANDIDATE_FILE, parse_env

    return parse_env((tmp_path / "dist" / CANDIDATE_FILE).read_text())


def refused_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "refused: [" in line]


def master_with_a_hostile_tag(world, server, tag: str) -> tuple[str, str]:
    """Master moved three commits on, all green; `tag` pushed at the oldest of them. Returns (old, head)."""
    old = world.commit("old change")
    shas = [old, world.commit("newer change"), world.commit("newest change")]
    world.push("master")
    green_master(server, shas)
    git(world.other, "fetch", "-q", "origin")
    git(world.other, "tag", tag, old)
    git(world.other, "push", "-q", "origin", f"refs/tags/{tag}")
    return old, shas[-1]


def test_default_promotion_takes_the_remote_branch_not_a_tag_named_like_it(
    world, gitlab_server, operator_env, tmp_path, capsys
):
    old, head = master_with_a_hostile_tag(world, gitlab_server, "origin/master")

    exit_status = cli.main(["promote"])

    output = capsys.readouterr()
    assert exit_status == 0, output.out + output.err
    assert world.release_sha() == head != old
    values = candidate(tmp_path)
    assert values["PLATFORM_CONTROL_RELEASE_SHA"] == head
    assert values["PLATFORM_CONTROL_SOURCE_REF"] == "refs/remotes/origin/master"
    assert not [value for value in values.values() if "ambiguous" in value]


@pytest.mark.parametrize(
    ("ref", "tag", "meant"),
    [("origin/master", "origin/master", "refs/remotes/origin/master"), ("master", "master", "refs/heads/master")],
)
def test_a_name_that_fits_a_tag_and_a_branch_is_refused_naming_both(
    world, gitlab_server, operator_env, capsys, ref, tag, meant
):
    master_with_a_hostile_tag(world, gitlab_server, tag)
    git(world.clone, "pull", "-q", "--ff-only", "origin", "master")  # the local master is current too
    before = origin_refs(world)

    exit_status = cli.main(["promote", ref])

    output = capsys.readouterr()
    assert exit_status == 2, output.out + output.err
    (line,) = [line for line in output.out.splitlines() if "[ambiguous-ref]" in line]
    assert f"refs/tags/{tag}" in line and meant in line
    assert origin_refs(world) == before
    assert release_pipelines(gitlab_server) == []


def test_guard_fetches_the_release_branch_it_judges(world):
    git(world.other, "checkout", "-q", "-B", "hotfix", f"origin/{RELEASE_BRANCH}")
    hotfix = world.commit("release-only hotfix", where=world.other)
    git(world.other, "push", "-q", "origin", f"{hotfix}:refs/heads/{RELEASE_BRANCH}")
    # world.clone last fetched before the hotfix: its tracking ref of the release branch is stale.

    run = pc_release("guard", cwd=world.clone)

    assert run.returncode == 2, run.stdout + run.stderr
    assert hotfix in run.stdout and "[release_branch_guard]" in run.stdout


def shallow_clone(world, tmp_path, *options: str, gitlab_server=None):
    """A `--depth 1` clone; with `gitlab_server`, its origin then points at the project's repository URL, as an
    operator's clone of the GitLab project does (deepening it then goes over git's HTTP protocol)."""
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", *options, f"file://{world.origin}", str(clone))
    assert git(clone, "rev-parse", "--is-shallow-repository") == "true"
    if gitlab_server is not None:
        connect_clone(clone, "origin", gitlab_server.repository_url, GIT_TOKEN_VARIABLE)
    return clone


@pytest.mark.parametrize("branches", ["--single-branch", "--no-single-branch"])
def test_promotion_from_a_shallow_clone_deepens_it_first(
    world, gitlab_server, operator_env, tmp_path, capsys, branches
):
    world.commit("on master, two commits past the release")
    head = world.commit("and one more")
    world.push("master")
    green_master(gitlab_server, [head])
    clone = shallow_clone(world, tmp_path, branches, gitlab_server=gitlab_server)
    operator_env(clone)

    exit_status = cli.main(["promote"])

    output = capsys.readouterr()
    assert exit_status == 0, output.out + output.err
    assert world.release_sha() == head
    assert git(clone, "rev-parse", "--is-shallow-repository") == "false"


def test_guard_in_a_shallow_clone_that_cannot_be_deepened_says_so(world, tmp_path):
    clone = shallow_clone(world, tmp_path)
    shutil.rmtree(world.origin)  # the remote is gone: nothing can deepen the clone

    run = pc_release("guard", cwd=clone)

    assert run.returncode == 2, run.stdout + run.stderr
    (line,) = refused_lines(run.stderr)
    assert "[shallow-clone]" in line and "--unshallow" in line


def test_revision_syntax_is_refused_for_what_it_is(world, tmp_path):
    env = {"PC_RELEASE_GITLAB_TOKEN": TOKEN, "DAGSTER_HOME": str(tmp_path), "PC_RELEASE_REPO_PATH": str(world.clone)}

    run = pc_release("promote", "origin/master~0", cwd=world.clone, env=env)

    assert run.returncode == 2
    (line,) = refused_lines(run.stderr)
    assert "[ref-syntax]" in line and "revision syntax" in line and "full SHA" in line
    assert "forbids" not in line  # git does accept origin/master~0 as a revision: it is pc-release that does not


def test_an_oversized_ref_is_refused_before_the_run_and_not_echoed(world, tmp_path):
    env = {"PC_RELEASE_GITLAB_TOKEN": TOKEN, "DAGSTER_HOME": str(tmp_path), "PC_RELEASE_REPO_PATH": str(world.clone)}
    ref = "a" * 10240

    run = pc_release("promote", ref, cwd=world.clone, env=env)

    assert run.returncode == 2
    output = run.stdout + run.stderr
    (line,) = refused_lines(output)
    assert "[ref-syntax]" in line and "10240 characters" in line
    assert "a" * 100 not in output


def test_an_unknown_ref_is_a_refusal_like_any_other(world, tmp_path):
    env = {"PC_RELEASE_GITLAB_TOKEN": TOKEN, "DAGSTER_HOME": str(tmp_path), "PC_RELEASE_REPO_PATH": str(world.clone)}

    run = pc_release("promote", "no-such-branch", cwd=world.clone, env=env)

    assert run.returncode == 2, run.stdout + run.stderr
    assert "[unknown-ref]" in run.stdout


def test_a_gate_refusal_exits_2_and_a_git_failure_exits_1(world, gitlab_server, operator_env, monkeypatch, capsys):
    world.commit("no master pipeline ran on this one")
    world.push("master")

    assert cli.main(["promote"]) == 2
    assert "gate master_ci_green_on_exact_sha: FAILED" in capsys.readouterr().out

    monkeypatch.setenv("PC_RELEASE_REMOTE", "no-such-remote")
    assert cli.main(["promote"]) == 1
    assert "[git]" in capsys.readouterr().out
