"""Shared fixtures: real git worlds in tmp dirs and the sandbox GitLab server over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from pc_release_tests.gitworld import GitWorld, make_git_world

TOKEN = "glpat-test-SECRET-token-0123456789"
# The test clones' own git credential for the sandbox GitLab, apart from pc-release's API token, which tests
# change or remove.
GIT_TOKEN_VARIABLE = "PC_SANDBOX_GIT_TOKEN"


@pytest.fixture
def world(tmp_path) -> GitWorld:
    return make_git_world(tmp_path / "git")


@pytest.fixture(autouse=True)
def _clean_policy_env(monkeypatch):
    """Tests start from the policy's defaults, whatever the developer's shell exports."""
    import os

    for name in list(os.environ):
        if name.startswith(("PLATFORM_CONTROL_", "PC_RELEASE_")) or name.startswith("CI_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PC_RELEASE_GITLAB_TOKEN", TOKEN)
    monkeypatch.setenv(GIT_TOKEN_VARIABLE, TOKEN)


@pytest.fixture
def gitlab_server(world):
    from pc_release.sandbox.gitlab_server import SandboxGitLab, connect_clone

    with SandboxGitLab(origin=world.origin, token=TOKEN) as server:
        connect_clone(world.clone, "origin", server.repository_url, GIT_TOKEN_VARIABLE)
        yield server


@pytest.fixture
def instance():
    import dagster as dg

    with dg.instance_for_test() as inst:
        yield inst


def _wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll until `predicate()` is truthy and return that value; fail the test otherwise."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value:
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s (last value: {value!r})")
        time.sleep(interval)
        value = predicate()
    return value


@pytest.fixture
def wait_for() -> Callable[..., Any]:
    return _wait_for
