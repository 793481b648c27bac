"""Fixtures of the readiness tests: one real PostgreSQL server per test session (per xdist worker), and the
sample platform repository published to a bare origin with the sandbox GitLab on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pc_release.readiness.postgres import PostgresServer
from pc_release.sandbox.gitlab_server import SandboxGitLab, connect_clone
from pc_release.sandbox.sample import create_sample_origin
from pc_release_tests.conftest import GIT_TOKEN_VARIABLE, TOKEN
from pc_release_tests.gitworld import GitWorld, git


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    with PostgresServer() as server:
        yield server.url


@pytest.fixture
def postgres_url(postgres_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The session's server, handed to pc-release the way an operator would (PC_RELEASE_POSTGRES_URL)."""
    monkeypatch.setenv("PC_RELEASE_POSTGRES_URL", postgres_server)
    return postgres_server


@pytest.fixture
def sample_world(tmp_path: Path) -> GitWorld:
    """The sample platform repo on master and release/platform-control (same commit), with a clone."""
    origin, clone = create_sample_origin(tmp_path / "sample")
    git(clone, "config", "user.email", "dev@example.test")
    git(clone, "config", "user.name", "Dev Eloper")
    return GitWorld(origin=origin, clone=clone, other=tmp_path / "other")


@pytest.fixture
def sample_gitlab(sample_world: GitWorld) -> Iterator[SandboxGitLab]:
    with SandboxGitLab(origin=sample_world.origin, token=TOKEN) as server:
        connect_clone(sample_world.clone, "origin", server.repository_url, GIT_TOKEN_VARIABLE)
        yield server
