"""promote_release reports success only on what GitLab itself holds: its branch at the pushed SHA and a pipeline of
this request deploying it (issue 12, items 3-5). Real git, the sandbox GitLab over HTTP, a real Dagster instance."""

from pathlib import Path

import dagster as dg
import pytest

from pc_release.resources.git import GitClone, GitResource
from pc_release.resources.gitlab import REQUEST_ID_VARIABLE, GitLabResource
from pc_release_tests.defs.test_promotion_job import advance_master, green_master, variables_of
from pc_release_tests.gitworld import RELEASE_BRANCH, git
from pc_release_tests.promotion_harness import PROJECT, promote, release_pipelines


def racer_commit(world) -> str:
    """A commit someone else has, ready to push to the release branch from their own clone."""
    git(world.other, "fetch", "-q", "origin")
    return world.commit("someone else's change", where=world.other)


def push_as_someone_else(world, sha: str) -> None:
    git(world.other, "fetch", "-q", "origin")
    git(world.other, "push", "-q", "--force", "origin", f"{sha}:refs/heads/{RELEASE_BRANCH}")


def request_ids(server) -> dict[int, str | None]:
    return {p["id"]: variables_of(server, p["id"]).get(REQUEST_ID_VARIABLE) for p in release_pipelines(server)}


# --- item 3: a run that pushed, or that sees a newer deploy, never reuses an old pipeline ---------------------------


def test_repromoting_after_someone_else_deployed_creates_a_new_pipeline(world, gitlab_server, instance):
    first = advance_master(world)
    green_master(gitlab_server, world)
    assert promote(world, gitlab_server.url, instance).success
    (earlier,) = release_pipelines(gitlab_server)
    other = advance_master(world, "another master change")
    push_as_someone_else(world, other)
    gitlab_server.create_pipeline(RELEASE_BRANCH, sha=other, source="web")  # no request id: run by hand

    out = promote(world, gitlab_server.url, instance, config={"source_ref": first})

    assert out.success, out.summary.text
    assert world.release_sha() == first
    meta = out.summary.metadata["release_pipeline"]
    assert meta["created"] is True
    newest = release_pipelines(gitlab_server)[-1]
    assert meta["pipeline_id"] == newest["id"] != earlier["id"]
    assert newest["sha"] == first


def test_a_pipeline_run_with_an_override_flag_is_not_reused_by_a_normal_promotion(world, gitlab_server, instance):
    advance_master(world)
    green_master(gitlab_server, world)
    assert promote(world, gitlab_server.url, instance, config={"allow_divergence": True}).success

    out = promote(world, gitlab_server.url, instance)

    assert out.success, out.summary.text
    assert out.summary.metadata["release_pipeline"]["created"] is True
    override, normal = release_pipelines(gitlab_server)
    assert variables_of(gitlab_server, override["id"])["PLATFORM_CONTROL_ALLOW_RELEASE_BRANCH_DIVERGENCE"] == "true"
    assert "PLATFORM_CONTROL_ALLOW_RELEASE_BRANCH_DIVERGENCE" not in variables_of(gitlab_server, normal["id"])


def test_rerun_reuses_its_pipeline_past_gitlabs_own_push_pipeline(world, gitlab_server, instance):
    """GitLab's push pipeline for the pushed SHA may land after ours: it is not someone else's deploy."""
    head = advance_master(world)
    green_master(gitlab_server, world)
    first = promote(world, gitlab_server.url, instance)
    assert first.success, first.summary.text
    gitlab_server.create_pipeline(RELEASE_BRANCH, sha=head, source="push")

    again = promote(world, gitlab_server.url, instance)

    assert again.success, again.summary.text
    assert again.summary.metadata["release_pipeline"]["created"] is False
    assert (
        again.summary.metadata["release_pipeline"]["pipeline_id"]
        == first.summary.metadata["release_pipeline"]["pipeline_id"]
    )
    assert sum(1 for rid in request_ids(gitlab_server).values() if rid) == 1


# --- item 4 (before the push): the clone's remote must be the GitLab project ----------------------------------------


@pytest.mark.parametrize("setting", ["url", "pushurl"])
def test_a_remote_pointing_at_a_fork_is_refused_before_the_push(world, gitlab_server, instance, tmp_path, setting):
    advance_master(world)
    green_master(gitlab_server, world)
    fork = tmp_path / "fork.git"
    git(tmp_path, "clone", "-q", "--bare", str(world.origin), str(fork))
    git(world.clone, "config", f"remote.origin.{setting}", str(fork))
    before = world.release_sha()

    out = promote(world, gitlab_server.url, instance)

    assert not out.success
    assert "remote_is_gitlab_project" in out.summary.failed_rules, out.summary.text
    assert str(fork) in out.summary.text and gitlab_server.repository_url in out.summary.text
    assert world.release_sha() == before
    assert git(fork, "rev-parse", RELEASE_BRANCH) == before
    assert release_pipelines(gitlab_server) == []


# --- item 4 (after the push): GitLab's own branch must be at the pushed SHA -----------------------------------------


class PushedOverClone(GitClone):
    """Someone else's push lands right after ours, before GitLab's branch is read back."""

    racer_sha: str = ""

    def push_release(self, sha, expected):
        pushed = super().push_release(sha, expected)
        git(
            self.path.parent / "other",
            "push",
            "-q",
            "--force",
            "origin",
            f"{self.racer_sha}:refs/heads/{RELEASE_BRANCH}",
        )
        return pushed


class PushedOverGit(GitResource):
    racer_sha: str

    def clone(self):
        clone = PushedOverClone(Path(self.repo_path), self.remote, self.master_branch, self.release_branch)
        clone.racer_sha = self.racer_sha
        return clone


def test_no_pipeline_unless_gitlabs_branch_is_at_the_pushed_sha(world, gitlab_server, instance):
    racer = racer_commit(world)
    git(world.other, "push", "-q", "origin", f"{racer}:refs/heads/racer")
    advance_master(world)
    green_master(gitlab_server, world)

    out = promote(
        world,
        gitlab_server.url,
        instance,
        resources={"git": PushedOverGit(repo_path=str(world.clone), racer_sha=racer)},
    )

    assert not out.success
    assert "gitlab_branch_at_pushed_sha" in out.summary.failed_rules, out.summary.text
    assert world.release_sha() == racer
    assert release_pipelines(gitlab_server) == []
    assert out.candidate is None


# --- item 5: a push by someone else between our push and our pipeline -----------------------------------------------


class PushedBeforePipelineGitLab(GitLabResource):
    """Someone else's push lands between our branch check and our pipeline's creation."""

    racer_repo: str
    racer_sha: str

    def create_release_pipeline(self, sha, variables, **options):
        git(Path(self.racer_repo), "push", "-q", "--force", "origin", f"{self.racer_sha}:refs/heads/{RELEASE_BRANCH}")
        return super().create_release_pipeline(sha, variables, **options)


def test_pipeline_started_on_someone_elses_sha_is_canceled_and_the_candidate_withdrawn(world, gitlab_server, instance):
    racer = racer_commit(world)
    head = advance_master(world)
    green_master(gitlab_server, world)
    gitlab = PushedBeforePipelineGitLab(
        url=gitlab_server.url,
        project=PROJECT,
        token=dg.EnvVar("PC_RELEASE_GITLAB_TOKEN"),
        racer_repo=str(world.other),
        racer_sha=racer,
    )

    out = promote(world, gitlab_server.url, instance, resources={"gitlab": gitlab})

    assert not out.success
    assert "release-branch-lease" in out.summary.failed_rules, out.summary.text
    assert world.release_sha() == racer
    ours = [p for p in release_pipelines(gitlab_server) if request_ids(gitlab_server)[p["id"]]]
    assert ours and all(p["sha"] == racer and p["status"] == "canceled" for p in ours)
    assert not any(p["sha"] == head for p in release_pipelines(gitlab_server))
    assert out.candidate is None


def test_a_lost_answer_on_someone_elses_sha_is_canceled_not_created_again(world, gitlab_server, instance):
    """GitLab acted on the create call but a proxy lost its answer: the retry finds the pipeline on the other SHA,
    cancels it and creates no second one."""
    from pc_release_tests.production.gitlab_proxy import GitLabProxy

    racer = racer_commit(world)
    advance_master(world)
    green_master(gitlab_server, world)
    dropped = []

    def drop_first_create(method: str, path: str, headers: dict):
        if method == "POST" and path.endswith("/pipeline") and not dropped:
            dropped.append(path)
            return ("lost", 502)
        return None

    with GitLabProxy(gitlab_server.url, drop_first_create) as proxy:
        gitlab = PushedBeforePipelineGitLab(
            url=proxy.url,
            project=PROJECT,
            token=dg.EnvVar("PC_RELEASE_GITLAB_TOKEN"),
            racer_repo=str(world.other),
            racer_sha=racer,
        )
        out = promote(world, proxy.url, instance, resources={"gitlab": gitlab})

    assert dropped
    assert not out.success
    assert "release-branch-lease" in out.summary.failed_rules, out.summary.text
    (ours,) = [p for p in release_pipelines(gitlab_server) if request_ids(gitlab_server)[p["id"]]]
    assert ours["sha"] == racer and ours["status"] == "canceled"
    assert out.candidate is None
