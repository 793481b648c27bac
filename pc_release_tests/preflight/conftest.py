"""Fixtures of the local preflight tests: the sandbox sample repository as a real origin, and its variants."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pc_release.resources.commands import CommandRunnerResource
from pc_release.sandbox.sample import create_sample_origin, materialize_sample_repo
from pc_release_tests.gitworld import GitWorld, git

NODE_MODULES = Path(__file__).resolve().parents[2] / "pc_release" / "sandbox" / "node" / "node_modules"
KIND_OVERLAY = "deploy/overlays/kind"
PLATFORM_OVERLAY = "deploy/overlays/platform-control"


def sample_world(root: Path) -> GitWorld:
    """The sample platform repo published to a bare origin, with the promotion clone."""
    origin, clone = create_sample_origin(root)
    return GitWorld(origin=origin, clone=clone, other=root / "other")


def commit_variant(world: GitWorld, message: str, edit) -> str:
    """Apply `edit(repo_path)` to the clone, commit it on master, push, and return the new SHA."""
    edit(world.clone)
    git(world.clone, "add", "-A")
    git(world.clone, "commit", "-q", "-m", message)
    world.push("master")
    return git(world.clone, "rev-parse", "HEAD")


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not found exactly once in {path}"
    path.write_text(text.replace(old, new))


def edit_release_config(repo: Path, change) -> None:
    """Change `.pc-release.yaml` as data (comments are not needed by pc-release)."""
    path = repo / ".pc-release.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def green_master(server, world: GitWorld) -> str:
    head = git(world.clone, "rev-parse", "origin/master")
    pipeline = server.create_pipeline("master", sha=head)
    server.set_all_jobs_status(pipeline["id"], "success")
    return head


def with_node() -> dict:
    """The resources a promotion needs to run the real Playwright suite."""
    return {"commands": CommandRunnerResource(env={"PC_RELEASE_NODE_MODULES": str(NODE_MODULES)})}


@pytest.fixture(scope="module")
def sample_tree(tmp_path_factory) -> Path:
    """A plain copy of the sample repository, shared read-only by a module's tests."""
    return materialize_sample_repo(tmp_path_factory.mktemp("sample") / "repo")


@pytest.fixture
def sample(tmp_path) -> GitWorld:
    return sample_world(tmp_path / "sample")
