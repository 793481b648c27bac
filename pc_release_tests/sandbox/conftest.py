"""Fixtures for the sandbox tests: real bare git origins in tmp dirs and started sandbox servers."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import gitlab
import pytest
from gitlab.v4.objects import Project as ProjectProxy

from pc_release.sandbox.gitlab_server import SandboxGitLab

TOKEN = "sandbox-test-token"
PROJECT = "platform/platform-control"

THREE_STAGE_CI = """\
stages: [build, test, deploy]
variables:
  GREETING: hello
build:
  stage: build
  script:
    - echo "VERSION=1.2.3" > build.env
    - echo built
  artifacts:
    paths: [build.env]
    reports:
      dotenv: build.env
test:
  stage: test
  script:
    - echo "$GREETING $VERSION"
full-only:
  stage: test
  script: [echo full]
  rules:
    - if: $PLATFORM_CONTROL_RELEASE_MODE == "full"
deploy:
  stage: deploy
  script: [echo deploy]
"""


class Origin:
    """A bare origin plus a work tree that commits and pushes to it."""

    def __init__(self, root: Path) -> None:
        self.path = root / "origin.git"
        self.work = root / "work"
        _git(root, "init", "--quiet", "--bare", "--initial-branch=master", str(self.path))
        _git(root, "init", "--quiet", "--initial-branch=master", str(self.work))
        _git(self.work, "remote", "add", "origin", str(self.path))

    def commit(self, files: dict[str, str], message: str = "change", branch: str = "master") -> str:
        """Write files, commit them on `branch` and push; returns the new SHA."""
        _git(self.work, "checkout", "--quiet", "-B", branch)
        for name, content in files.items():
            target = self.work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        _git(self.work, "add", "--all")
        _git(
            self.work,
            "-c",
            "user.name=Dev",
            "-c",
            "user.email=dev@example.com",
            "commit",
            "--quiet",
            "--allow-empty",
            "-m",
            message,
        )
        _git(self.work, "push", "--quiet", "--force", "origin", f"HEAD:refs/heads/{branch}")
        return _git(self.work, "rev-parse", "HEAD")


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def origin(tmp_path: Path) -> Origin:
    repo = Origin(tmp_path)
    repo.commit({".gitlab-ci.yml": THREE_STAGE_CI, "README.md": "platform-control\n"}, "initial commit")
    return repo


@pytest.fixture
def project_path() -> str:
    return PROJECT


@pytest.fixture
def server(origin: Origin) -> Iterator[SandboxGitLab]:
    with SandboxGitLab(origin.path, TOKEN) as srv:
        yield srv


@pytest.fixture
def gl(server: SandboxGitLab) -> gitlab.Gitlab:
    return gitlab.Gitlab(server.url, private_token=TOKEN, retry_transient_errors=True)


@pytest.fixture
def project(gl: gitlab.Gitlab) -> ProjectProxy:
    return gl.projects.get(PROJECT)


@pytest.fixture
def token() -> str:
    return TOKEN
