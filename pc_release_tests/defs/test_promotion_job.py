"""promote_release and dev_test_deploy end to end: real git, python-gitlab over HTTP to the sandbox, a real
Dagster instance."""

from pathlib import Path

import dagster as dg
import gitlab
import pytest

from pc_release.resources.git import GitClone, GitResource
from pc_release_tests.conftest import GIT_TOKEN_VARIABLE, TOKEN
from pc_release_tests.gitworld import RELEASE_BRANCH, git
from pc_release_tests.promotion_harness import promote, release_pipelines


def variables_of(server, pipeline_id: int) -> dict[str, str]:
    project = gitlab.Gitlab(server.url, private_token=TOKEN).projects.get(1)
    return {v.key: v.value for v in project.pipelines.get(pipeline_id).variables.list(get_all=True)}


def green_master(server, world) -> str:
    head = git(world.clone, "rev-parse", "origin/master")
    pipeline = server.create_pipeline("master", sha=head)
    server.set_all_jobs_status(pipeline["id"], "success")
    return head


def advance_master(world, message="next change") -> str:
    sha = world.commit(message)
    world.push("master")
    return sha


def test_green_master_head_is_promoted_with_one_pipeline(world, gitlab_server, instance):
    head = advance_master(world)
    green_master(gitlab_server, world)
    before = world.release_sha()

    out = promote(world, gitlab_server.url, instance)

    assert out.success, out.summary.text
    assert world.release_sha() == head != before
    pipelines = release_pipelines(gitlab_server)
    assert len(pipelines) == 1 and pipelines[0]["sha"] == head
    variables = variables_of(gitlab_server, pipelines[0]["id"])
    assert variables["PLATFORM_CONTROL_RELEASE_MODE"] == "full"
    assert variables["PLATFORM_CONTROL_RELEASE_PROFILE"] == "standard"
    assert "PLATFORM_CONTROL_DEV_TEST_DEPLOY" not in variables
    assert "PLATFORM_CONTROL_ALLOW_RELEASE_BRANCH_DIVERGENCE" not in variables
    candidate = out.candidate
    assert candidate["PLATFORM_CONTROL_RELEASE_SHA"] == head
    assert candidate["PLATFORM_CONTROL_RELEASE_KIND"] == "release"
    assert candidate["PLATFORM_CONTROL_LOCAL_PREFLIGHT"] == "not_run"
    assert candidate["PLATFORM_CONTROL_PREVIOUS_RELEASE_SHA"] == before
    assert candidate["PLATFORM_CONTROL_MASTER_PIPELINE_URL"].endswith("/-/pipelines/1")
    assert out.check("candidate_matches_release_branch") is True
    assert out.check("master_ci_green_on_exact_sha") is True
    assert out.check("reachable_from_master") is True
    meta = out.summary.metadata["release_pipeline"]
    assert meta["pipeline_id"] == pipelines[0]["id"]
    assert len(meta["content_sha256"] if "content_sha256" in meta else meta["candidate_sha256"]) == 64


def test_rerun_of_same_request_reuses_the_pipeline(world, gitlab_server, instance):
    advance_master(world)
    green_master(gitlab_server, world)
    assert promote(world, gitlab_server.url, instance).success
    again = promote(world, gitlab_server.url, instance)
    assert again.success, again.summary.text
    assert len(release_pipelines(gitlab_server)) == 1
    assert again.summary.metadata["release_pipeline"]["created"] is False


def test_sha_not_on_master_is_refused_without_push(world, gitlab_server, instance):
    feature = world.commit("unmerged feature")
    git(world.clone, "push", "-q", "origin", f"{feature}:refs/heads/feature")
    before = world.release_sha()

    out = promote(world, gitlab_server.url, instance, config={"source_ref": "origin/feature"})

    assert not out.success
    assert out.check("reachable_from_master") is False
    assert "reachable_from_master" in out.summary.failed_rules
    assert world.release_sha() == before
    assert release_pipelines(gitlab_server) == []


@pytest.mark.parametrize("status", ["failed", "running", "canceling", "waiting_for_callback", None])
def test_master_ci_not_green_blocks(world, gitlab_server, instance, status):
    head = advance_master(world)
    if status is not None:
        pipeline = gitlab_server.create_pipeline("master", sha=head)
        gitlab_server.set_pipeline_status(pipeline["id"], status)
    before = world.release_sha()

    out = promote(world, gitlab_server.url, instance)

    assert not out.success
    assert out.check("master_ci_green_on_exact_sha") is False
    assert world.release_sha() == before
    assert release_pipelines(gitlab_server) == []
    assert out.candidate is None


def test_green_ci_on_other_sha_does_not_count(world, gitlab_server, instance):
    green_master(gitlab_server, world)  # green on the old head
    advance_master(world)  # new head has no pipeline
    out = promote(world, gitlab_server.url, instance)
    assert not out.success and out.check("master_ci_green_on_exact_sha") is False


class RacingClone(GitClone):
    """A real concurrent push lands between our read of the release branch and our push."""

    racer_sha: str = ""

    def push_release(self, sha, expected):
        racer = self.path.parent / "other"
        git(racer, "push", "-q", "--force", "origin", f"{self.racer_sha}:refs/heads/{RELEASE_BRANCH}")
        return super().push_release(sha, expected)


class RacingGit(GitResource):
    racer_sha: str

    def clone(self):
        clone = RacingClone(Path(self.repo_path), self.remote, self.master_branch, self.release_branch)
        clone.racer_sha = self.racer_sha
        return clone


def test_concurrent_push_fails_promotion_and_survives(world, gitlab_server, instance):
    git(world.other, "fetch", "-q", "origin")
    racer = world.commit("concurrent promotion", where=world.other)
    git(world.other, "push", "-q", "origin", f"{racer}:refs/heads/racer")
    advance_master(world)
    green_master(gitlab_server, world)

    out = promote(
        world,
        gitlab_server.url,
        instance,
        resources={"git": RacingGit(repo_path=str(world.clone), racer_sha=racer)},
    )

    assert not out.success
    assert "release-branch-lease" in out.summary.failed_rules
    assert "concurrent value was kept" in out.summary.text
    assert world.release_sha() == racer
    assert release_pipelines(gitlab_server) == []


def test_transient_gitlab_errors_are_retried_to_exactly_one_pipeline(world, gitlab_server, instance):
    advance_master(world)
    green_master(gitlab_server, world)
    gitlab_server.reset_request_log()
    gitlab_server.fail_next(2, status=502)
    gitlab_server.set_faults(rate=0.3, kinds=("502", "429"), seed=7, retry_after=0)

    out = promote(world, gitlab_server.url, instance)
    gitlab_server.set_faults(rate=0.0)

    assert out.success, out.summary.text
    assert len(release_pipelines(gitlab_server)) == 1
    posts = [r for r in gitlab_server.request_log if r[0] == "POST"]
    assert len(posts) >= 1


def test_dev_test_deploy_requires_clean_tree(world, gitlab_server, instance):
    (world.clone / "README.md").write_text("uncommitted\n")
    before = world.release_sha()
    out = promote(world, gitlab_server.url, instance, job="dev_test_deploy", config={"source_ref": "HEAD"})
    assert not out.success
    assert "dev_test_clean_tree" in out.summary.failed_rules
    assert world.release_sha() == before
    assert release_pipelines(gitlab_server) == []


def test_dev_test_deploy_pushes_unmerged_sha_as_not_a_release(world, gitlab_server, instance):
    feature = world.commit("hardware-only experiment")
    git(world.clone, "push", "-q", "origin", f"{feature}:refs/heads/feature")

    out = promote(world, gitlab_server.url, instance, job="dev_test_deploy", config={"source_ref": "HEAD"})

    assert out.success, out.summary.text
    assert world.release_sha() == feature
    (pipeline,) = release_pipelines(gitlab_server)
    variables = variables_of(gitlab_server, pipeline["id"])
    assert variables["PLATFORM_CONTROL_RELEASE_MODE"] == "deploy"
    assert variables["PLATFORM_CONTROL_ALLOW_RELEASE_BRANCH_DIVERGENCE"] == "true"
    assert variables["PLATFORM_CONTROL_DEV_TEST_DEPLOY"] == "true"
    assert out.candidate["PLATFORM_CONTROL_RELEASE_KIND"] == "dev-test"
    assert out.candidate["PLATFORM_CONTROL_LOCAL_PREFLIGHT"] == "skipped"


@pytest.mark.parametrize(
    ("config", "rule"),
    [
        ({"source_ref": "no-such-branch"}, "unknown-ref"),
        ({"source_ref": "--upload-pack=touch /tmp/pc-release-pwned"}, "ref-syntax"),
        ({"source_ref": "z" * 40}, "exact-sha"),
    ],
)
def test_bad_input_names_the_rule_and_touches_nothing(world, gitlab_server, instance, config, rule):
    advance_master(world)
    green_master(gitlab_server, world)
    before = world.release_sha()
    out = promote(world, gitlab_server.url, instance, config=config)
    assert not out.success
    assert rule in out.summary.failed_rules, out.summary.text
    assert world.release_sha() == before
    assert release_pipelines(gitlab_server) == []


def test_missing_token_is_a_clear_error(world, gitlab_server, instance, monkeypatch):
    """Dagster refuses to start the run: the token is bound with dg.EnvVar and resolved before any step."""
    monkeypatch.delenv("PC_RELEASE_GITLAB_TOKEN")
    advance_master(world)
    green_master(gitlab_server, world)
    before = world.release_sha()
    with pytest.raises(dg.DagsterInvalidConfigError, match="PC_RELEASE_GITLAB_TOKEN"):
        promote(world, gitlab_server.url, instance)
    assert world.release_sha() == before
    assert release_pipelines(gitlab_server) == []


def test_token_never_reaches_the_event_log_or_files(world, gitlab_server, instance, monkeypatch):
    advance_master(world)
    green_master(gitlab_server, world)
    promote(world, gitlab_server.url, instance)
    promote(world, gitlab_server.url, instance, config={"source_ref": "no-such-ref"})
    monkeypatch.setenv("PC_RELEASE_GITLAB_TOKEN", "wrong-token-value")
    failed = promote(world, gitlab_server.url, instance)
    assert "gitlab-auth" in failed.summary.failed_rules
    for run in instance.get_runs():
        for record in instance.all_logs(run.run_id):
            assert TOKEN not in str(record)
            assert "wrong-token-value" not in str(record)
    for path in world.clone.parent.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            assert TOKEN not in path.read_text(errors="ignore")


def test_token_that_cannot_run_pipelines_is_refused_before_the_push(world, instance, monkeypatch):
    """A Reporter token reads master CI fine but would get 403 creating the pipeline after the push."""
    from pc_release.sandbox.gitlab_server import SandboxGitLab, connect_clone

    with SandboxGitLab(origin=world.origin, token=TOKEN, reporter_tokens=("reporter-token-123",)) as server:
        connect_clone(world.clone, "origin", server.repository_url, GIT_TOKEN_VARIABLE)
        advance_master(world)
        green_master(server, world)
        before = world.release_sha()
        monkeypatch.setenv("PC_RELEASE_GITLAB_TOKEN", "reporter-token-123")

        out = promote(world, server.url, instance)

        assert not out.success
        assert out.check("gitlab_can_trigger_release_pipeline") is False
        assert "access level is 20" in out.summary.text
        assert world.release_sha() == before
        assert release_pipelines(server) == []


PROTECTED_RELEASE = {"master": (40, 40), "release/platform-control": (40, 40)}


def test_developer_token_on_a_protected_release_branch_is_refused_before_the_push(world, instance, monkeypatch):
    """A Developer may run pipelines in general, but not on a release branch only Maintainers may push or merge
    to: GitLab would refuse the release pipeline after the push, so the gate refuses the promotion first."""
    from pc_release.sandbox.gitlab_server import SandboxGitLab, connect_clone

    with SandboxGitLab(
        origin=world.origin,
        token=TOKEN,
        developer_tokens=("developer-token-123",),
        protected_branches=PROTECTED_RELEASE,
    ) as server:
        connect_clone(world.clone, "origin", server.repository_url, GIT_TOKEN_VARIABLE)
        advance_master(world)
        green_master(server, world)
        before = world.release_sha()
        monkeypatch.setenv("PC_RELEASE_GITLAB_TOKEN", "developer-token-123")

        out = promote(world, server.url, instance)

        assert not out.success
        assert out.check("gitlab_can_trigger_release_pipeline") is False
        assert "release/platform-control is protected" in out.summary.text
        assert "may neither push nor merge" in out.summary.text
        assert world.release_sha() == before
        assert release_pipelines(server) == []


def test_developer_token_promotes_when_developers_may_merge_to_the_release_branch(world, instance, monkeypatch):
    from pc_release.sandbox.gitlab_server import SandboxGitLab, connect_clone

    protection = {**PROTECTED_RELEASE, "release/platform-control": (40, 30)}
    with SandboxGitLab(
        origin=world.origin, token=TOKEN, developer_tokens=("developer-token-123",), protected_branches=protection
    ) as server:
        connect_clone(world.clone, "origin", server.repository_url, GIT_TOKEN_VARIABLE)
        head = advance_master(world)
        green_master(server, world)
        monkeypatch.setenv("PC_RELEASE_GITLAB_TOKEN", "developer-token-123")

        out = promote(world, server.url, instance)

        assert out.success, out.summary.text
        assert out.check("gitlab_can_trigger_release_pipeline") is True
        assert world.release_sha() == head
        assert [p["sha"] for p in release_pipelines(server)] == [head]


def test_promotion_launched_while_master_ci_is_slowed_is_refused_by_the_ci_gate(world, instance, wait_for):
    """The README's "launch before CI is green": the sandbox holds the real master pipeline of a push running."""
    from pc_release.sandbox.gitlab_server import SandboxGitLab, connect_clone

    with SandboxGitLab(
        origin=world.origin, token=TOKEN, run_jobs=True, watch_branches=("master",), slow_master_ci_seconds=600
    ) as server:
        connect_clone(world.clone, "origin", server.repository_url, GIT_TOKEN_VARIABLE)
        head = advance_master(world)
        project = gitlab.Gitlab(server.url, private_token=TOKEN).projects.get(1)
        pipeline = wait_for(lambda: next(iter(project.pipelines.list(ref="master", sha=head)), None))
        unit = wait_for(lambda: [j for j in pipeline.jobs.list() if j.name == "unit" and j.status == "running"])[0]
        wait_for(lambda: b"holding this job" in project.jobs.get(unit.id, lazy=True).trace())
        before = world.release_sha()

        out = promote(world, server.url, instance)

        assert not out.success
        assert out.check("master_ci_green_on_exact_sha") is False
        assert "running" in out.evaluation("master_ci_green_on_exact_sha").description
        assert world.release_sha() == before
        assert release_pipelines(server) == []
        assert project.pipelines.get(pipeline.id).status == "running"
