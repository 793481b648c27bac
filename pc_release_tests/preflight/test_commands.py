"""CommandRunnerResource: commands run in a throwaway worktree of the exact SHA, bounded, without the token."""

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pc_release.errors import InvalidInput
from pc_release.resources.commands import CommandRunnerResource, child_environment
from pc_release_tests.conftest import TOKEN
from pc_release_tests.gitworld import git


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> tuple[Path, str, str]:
    """A clone with two commits and uncommitted edits: (path, first SHA, second SHA)."""
    path = tmp_path_factory.mktemp("commands") / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "master")
    git(path, "config", "user.email", "dev@example.test")
    git(path, "config", "user.name", "Dev")
    (path / "version.txt").write_text("one\n")
    (path / "sub").mkdir()
    (path / "sub" / "here.txt").write_text("sub\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "one")
    first = git(path, "rev-parse", "HEAD")
    (path / "version.txt").write_text("two\n")
    git(path, "commit", "-q", "-am", "two")
    second = git(path, "rev-parse", "HEAD")
    (path / "version.txt").write_text("uncommitted edit\n")
    return path, first, second


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_command_sees_exactly_the_promoted_sha_and_leaves_no_worktree(repo, tmp_path):
    path, first, second = repo
    runner = CommandRunnerResource(work_dir=str(tmp_path))
    for sha, expected in ((first, "one"), (second, "two")):
        result = runner.run_in_worktree(path, sha, ["cat", "version.txt"], timeout=30)
        assert (result.exit_code, result.output.strip()) == (0, expected)
        assert result.workdir != str(path)
    assert (path / "version.txt").read_text() == "uncommitted edit\n"
    assert git(path, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert list(tmp_path.iterdir()) == []


def test_cwd_env_and_report_files(repo, tmp_path):
    path, _, second = repo
    runner = CommandRunnerResource(env={"FROM_RESOURCE": "r", "BOTH": "resource"}, work_dir=str(tmp_path))
    code = (
        "import os, pathlib; p = pathlib.Path('../dist/report.json'); p.parent.mkdir(); "
        "p.write_text(os.environ['FROM_RESOURCE'] + os.environ['FROM_CHECK'] + os.environ['BOTH']); "
        "print(pathlib.Path('here.txt').read_text().strip())"
    )
    result = runner.run_in_worktree(
        path,
        second,
        py(code),
        cwd="sub",
        env={"FROM_CHECK": "c", "BOTH": "check"},
        timeout=30,
        collect=["dist/report.json", "dist/absent.xml"],
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "sub"
    assert result.files == {"dist/report.json": "rccheck", "dist/absent.xml": None}
    assert result.cwd == "sub"


@pytest.mark.parametrize(("cwd", "collect"), [("../..", []), ("/etc", []), (".", ["../outside.json"])])
def test_paths_outside_the_worktree_are_refused(repo, cwd, collect):
    path, _, second = repo
    with pytest.raises(InvalidInput) as err:
        CommandRunnerResource().run_in_worktree(path, second, ["true"], cwd=cwd, timeout=5, collect=collect)
    assert err.value.rule == "preflight-config"
    assert git(path, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_gitlab_token_never_reaches_the_command_nor_its_output(repo, monkeypatch, tmp_path):
    path, _, second = repo
    monkeypatch.setenv("PC_RELEASE_GITLAB_TOKEN", TOKEN)
    monkeypatch.setenv("COPIED_TOKEN", TOKEN)
    monkeypatch.setenv("GITLAB_REMOTE", f"https://oauth2:{TOKEN}@gitlab.example/platform.git")
    secret_file = tmp_path / "leak.txt"
    secret_file.write_text(f"token={TOKEN}\n")
    code = (
        "import os, sys; print(sorted(k for k, v in os.environ.items() if 'glpat' in v)); "
        f"print(open({str(secret_file)!r}).read())"
    )
    result = CommandRunnerResource(env={"ALSO": TOKEN}).run_in_worktree(path, second, py(code), timeout=30)
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == "[]"
    assert TOKEN not in result.output and "token=[REDACTED]" in result.output
    assert "PC_RELEASE_GITLAB_TOKEN" not in child_environment({})


def test_timeout_stops_the_command_and_everything_it_started(repo, tmp_path):
    path, _, second = repo
    pid_file = tmp_path / "child.pid"
    script = f"sleep 120 & echo $! > {pid_file}; echo started; wait"
    result = CommandRunnerResource().run_in_worktree(path, second, ["bash", "-c", script], timeout=1)
    assert result.timed_out and result.timeout_seconds == 1
    assert "started" in result.output
    assert not running(int(pid_file.read_text()))


def test_what_left_the_process_group_is_stopped_too(repo, tmp_path):
    """Playwright starts its browser and web server in sessions of their own: killing the group misses them."""
    path, _, second = repo
    pid_file = tmp_path / "child.pid"
    # The child reports its pid once it is in its own session, so the command ends only after it has left.
    script = f"mkfifo up; setsid bash -c 'echo $$ > up; exec sleep 120' & read pid < up; echo $pid > {pid_file}"
    result = CommandRunnerResource().run_in_worktree(path, second, ["bash", "-c", script], timeout=30)
    assert result.exit_code == 0
    assert not running(int(pid_file.read_text()))


def test_worktree_of_a_killed_process_is_removed_by_the_next_one(repo, tmp_path):
    path, _, second = repo
    dies_inside_a_worktree = (
        "import os, signal; from pc_release.resources.commands import CommandRunnerResource; "
        f"tree = CommandRunnerResource(work_dir={str(tmp_path)!r}).worktree({str(path)!r}, {second!r}); "
        "tree.__enter__(); os.kill(os.getpid(), signal.SIGKILL)"
    )
    assert subprocess.run(py(dies_inside_a_worktree)).returncode == -signal.SIGKILL
    assert git(path, "worktree", "list", "--porcelain").count("worktree ") == 2
    assert len(list(tmp_path.iterdir())) == 1

    next_one = CommandRunnerResource(work_dir=str(tmp_path)).run_in_worktree(path, second, ["true"], timeout=30)
    assert next_one.exit_code == 0
    assert git(path, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert list(tmp_path.iterdir()) == []


def running(pid: int) -> bool:
    """Alive and not a zombie waiting for its (re-)parent to reap it."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_missing_program_is_reported_as_not_started(repo):
    path, _, second = repo
    missing = CommandRunnerResource().run_in_worktree(path, second, ["no-such-program-pc-release"], timeout=5)
    assert not missing.started and missing.exit_code is None
    assert "cannot execute 'no-such-program-pc-release'" in missing.output


def test_missing_working_directory_at_the_sha_is_refused(repo):
    path, _, second = repo
    with pytest.raises(InvalidInput) as err:
        CommandRunnerResource().run_in_worktree(path, second, ["true"], cwd="frontend", timeout=5)
    assert err.value.rule == "preflight-config"
    assert "working directory 'frontend' does not exist at" in str(err.value)


def test_output_keeps_the_end_when_it_is_too_long(repo):
    path, _, second = repo
    result = CommandRunnerResource(output_limit_bytes=100).run_in_worktree(
        path, second, py("print('x' * 5000); print('THE END')"), timeout=30
    )
    assert len(result.output) == 100 and result.output.endswith("THE END\n")


def test_child_environment_drops_every_pc_release_secret():
    base = {
        "PATH": "/usr/bin",
        "PC_RELEASE_GITLAB_TOKEN": "glpat-abc",
        "PC_RELEASE_POSTGRES_URL": "postgresql://u:pw-123@127.0.0.1/db",
        "DAGSTER_PG_PASSWORD": "pg-secret",
        "COPY": "pg-secret",
    }
    assert child_environment({"EXTRA": "1"}, base) == {"PATH": "/usr/bin", "EXTRA": "1"}
