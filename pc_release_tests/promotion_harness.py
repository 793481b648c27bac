"""Run the real promotion jobs in-process against a git world and the sandbox GitLab."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from pc_release.definitions import build_definitions
from pc_release.errors import GitLabError
from pc_release.reporting import RunSummary, summarize_run
from pc_release.resources.files import CANDIDATE_FILE, parse_env
from pc_release.resources.gitlab import GitLabResource
from pc_release.settings import Settings
from pc_release_tests.gitworld import GitWorld

PROJECT = "platform/platform-control"


@dataclass
class Outcome:
    result: dg.ExecuteInProcessResult
    summary: RunSummary
    dist: Path

    @property
    def success(self) -> bool:
        return self.result.success

    @property
    def candidate(self) -> dict[str, str] | None:
        path = self.dist / CANDIDATE_FILE
        return parse_env(path.read_text()) if path.exists() else None

    def check(self, name: str) -> bool | None:
        for event in self.result.get_asset_check_evaluations():
            if event.check_name == name:
                return event.passed
        return None

    def evaluation(self, name: str) -> dg.AssetCheckEvaluation | None:
        """A check's whole evaluation (passed, severity, description, metadata values), or None if it never ran."""
        for event in self.result.get_asset_check_evaluations():
            if event.check_name == name:
                return event
        return None


def settings_for(world: GitWorld, gitlab_url: str, dist: Path) -> Settings:
    return Settings(repo_path=world.clone, gitlab_url=gitlab_url, gitlab_project=PROJECT, dist_dir=dist)


def promote(
    world: GitWorld,
    gitlab_url: str,
    instance: dg.DagsterInstance,
    *,
    job: str = "promote_release",
    config: dict | None = None,
    resources: dict | None = None,
) -> Outcome:
    dist = world.clone.parent / "dist"
    defs = build_definitions(settings_for(world, gitlab_url, dist), resources)
    result = defs.resolve_job_def(job).execute_in_process(
        run_config={"ops": {"source_commit": {"config": config or {}}}},
        instance=instance,
        raise_on_error=False,
    )
    return Outcome(result=result, summary=summarize_run(instance, result.run_id), dist=dist)


def release_pipelines(server, branch: str = "release/platform-control") -> list[dict]:
    return [p for p in server.pipelines() if p["ref"] == branch]


class GitLabDownAtTrigger(GitLabResource):
    """GitLab answers every read but fails the release pipeline's create call, after the branch was pushed."""

    def create_release_pipeline(self, *args, **kwargs):
        raise GitLabError("GitLab is down for maintenance (503)", rule="gitlab-unavailable")


def gitlab_down_at_trigger(gitlab_url: str) -> GitLabDownAtTrigger:
    return GitLabDownAtTrigger(url=gitlab_url, project=PROJECT, token=dg.EnvVar("PC_RELEASE_GITLAB_TOKEN"))
