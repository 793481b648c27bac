"""What an operator can see after promotions: the origin's refs and their history, GitLab's pipelines."""

from __future__ import annotations

import gitlab

from pc_release_tests.conftest import TOKEN
from pc_release_tests.gitworld import RELEASE_BRANCH, GitWorld, git
from pc_release_tests.promotion_harness import release_pipelines


def record_ref_updates(world: GitWorld) -> None:
    """Bare repositories keep no reflog by default; with one, every update of the release branch is on record."""
    git(world.origin, "config", "core.logAllRefUpdates", "always")


def release_branch_updates(world: GitWorld) -> list[tuple[str, str]]:
    """(old, new) for every update of the release branch since `record_ref_updates`, oldest first."""
    log = world.origin / "logs" / "refs" / "heads" / RELEASE_BRANCH
    if not log.exists():
        return []
    return [tuple(line.split()[:2]) for line in log.read_text().splitlines() if line.strip()]


def origin_refs(world: GitWorld) -> dict[str, str]:
    out = git(world.origin, "for-each-ref", "--format=%(refname) %(objectname)")
    return dict(line.split(" ", 1) for line in out.splitlines())


def green_master(server, shas: list[str]) -> None:
    for sha in shas:
        pipeline = server.create_pipeline("master", sha=sha)
        server.set_all_jobs_status(pipeline["id"], "success")


def release_pipelines_with_variables(server) -> list[dict]:
    """Release-branch pipelines as GitLab reports them, each with the variables it was triggered with."""
    project = gitlab.Gitlab(server.url, private_token=TOKEN).projects.get(server.project_id, lazy=True)
    pipelines = []
    for pipeline in release_pipelines(server):
        variables = project.pipelines.get(pipeline["id"], lazy=True).variables.list(get_all=True)
        pipelines.append(pipeline | {"variables": {v.key: v.value for v in variables}})
    return pipelines
