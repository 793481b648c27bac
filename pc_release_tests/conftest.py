"""Shared fixtures: real git worlds in tmp dirs and the sandbox GitLab server over real HTTP."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
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


_INSTANCE_TEMPLATE: Path | None = None


def _instance_template() -> Path:
    """A Dagster home whose SQLite run, event-log index and schedule databases are created and migrated, once per
    test process. Creating them costs ~1.4 s of migrations per instance; a copy of them costs ~0.07 s."""
    global _INSTANCE_TEMPLATE
    if _INSTANCE_TEMPLATE is None:
        import dagster as dg

        home = Path(tempfile.mkdtemp(prefix="pc-release-instance-template-"))
        with dg.instance_for_test(temp_dir=str(home)) as inst:
            inst.get_runs(limit=1)
        (home / "dagster.yaml").unlink()
        atexit.register(shutil.rmtree, home, True)
        _INSTANCE_TEMPLATE = home
    return _INSTANCE_TEMPLATE


@contextmanager
def seeded_instance(home: Path, overrides: dict | None = None) -> Iterator[Any]:
    """`dg.instance_for_test` in `home` (created from the migrated template unless it exists already, so reopening
    a home keeps its runs), as real as a fresh one: same storages, same schema, its own files."""
    import dagster as dg

    if not home.exists():
        shutil.copytree(_instance_template(), home)
    with dg.instance_for_test(overrides=overrides, temp_dir=str(home)) as inst:
        yield inst


@pytest.fixture
def instance(tmp_path):
    with seeded_instance(tmp_path / "dagster-home") as inst:
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
