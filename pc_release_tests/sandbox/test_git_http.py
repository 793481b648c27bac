"""The sandbox GitLab serves its repository over git's smart HTTP protocol at the project's `http_url_to_repo`, with
GitLab's checks: a token as the Basic-auth password, read access to fetch, Developer to push, protected branches."""

import base64
import os
import subprocess

import gitlab
import pytest

from pc_release.sandbox.gitlab_server import SandboxGitLab
from pc_release_tests.conftest import TOKEN
from pc_release_tests.gitworld import git

REPORTER, DEVELOPER = "reporter-token-123", "developer-token-123"


def git_http(cwd, token: str | None, *args: str) -> subprocess.CompletedProcess:
    """git with the token in an `http.extraHeader` passed through the environment: never on the command line."""
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
    if token is not None:
        header = "Authorization: Basic " + base64.b64encode(f"pc-release:{token}".encode()).decode()
        env |= {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader", "GIT_CONFIG_VALUE_0": header}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)


@pytest.fixture
def server(world):
    with SandboxGitLab(
        origin=world.origin, token=TOKEN, reporter_tokens=(REPORTER,), developer_tokens=(DEVELOPER,)
    ) as server:
        yield server


def repo_url(server) -> str:
    return gitlab.Gitlab(server.url, private_token=TOKEN).projects.get(1).http_url_to_repo


def test_clone_fetch_and_push_over_the_projects_http_url(world, server, tmp_path):
    url = repo_url(server)
    done = git_http(tmp_path, TOKEN, "clone", "-q", url, "http-clone")
    assert done.returncode == 0, done.stderr
    clone = tmp_path / "http-clone"
    assert git(clone, "rev-parse", "origin/master") == world.remote_sha("master")
    assert TOKEN not in (clone / ".git" / "config").read_text()

    git(clone, "config", "user.email", "dev@example.test")
    git(clone, "config", "user.name", "Dev")
    # Larger than git's 1 MiB http.postBuffer: the push body arrives chunked.
    (clone / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    git(clone, "add", "big.bin")
    git(clone, "commit", "-q", "-m", "big file")
    pushed = git_http(clone, TOKEN, "push", "-q", "origin", "HEAD:refs/heads/feature")
    assert pushed.returncode == 0, pushed.stderr
    assert world.remote_sha("feature") == git(clone, "rev-parse", "HEAD")

    fetched = git_http(world.clone, TOKEN, "fetch", "-q", url, "feature")
    assert fetched.returncode == 0, fetched.stderr


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_no_or_a_wrong_token_is_refused(server, tmp_path, token):
    done = git_http(tmp_path, token, "clone", "-q", repo_url(server), "nope")
    assert done.returncode != 0
    assert not (tmp_path / "nope").exists()
    assert "401" in done.stderr or "could not read Username" in done.stderr or "Authentication failed" in done.stderr


def test_a_reporter_fetches_but_may_not_push(world, server, tmp_path):
    url = repo_url(server)
    assert git_http(tmp_path, REPORTER, "clone", "-q", url, "reporter").returncode == 0
    refused = git_http(tmp_path / "reporter", REPORTER, "push", "-q", "origin", "HEAD:refs/heads/reporter-branch")
    assert refused.returncode != 0
    assert "You are not allowed to push code to this project" in refused.stderr
    assert world.remote_sha("reporter-branch") is None


def test_a_developer_may_not_push_to_the_protected_default_branch(world, server, tmp_path):
    url = repo_url(server)
    assert git_http(tmp_path, DEVELOPER, "clone", "-q", url, "dev").returncode == 0
    clone = tmp_path / "dev"
    git(clone, "config", "user.email", "dev@example.test")
    git(clone, "config", "user.name", "Dev")
    git(clone, "commit", "-q", "--allow-empty", "-m", "straight to master")
    before = world.remote_sha("master")

    refused = git_http(clone, DEVELOPER, "push", "-q", "origin", "HEAD:master")

    assert refused.returncode != 0
    assert "GitLab: You are not allowed to push code to protected branches on this project." in refused.stderr
    assert world.remote_sha("master") == before
    allowed = git_http(clone, DEVELOPER, "push", "-q", "origin", "HEAD:refs/heads/topic")
    assert allowed.returncode == 0, allowed.stderr
