"""Trigger jobs as GitLab runs them: `trigger: include:` starts a child pipeline of the project (source
`parent_pipeline`, the parent's ref and SHA), the trigger job is listed only under `/bridges` with its
`downstream_pipeline`, and `strategy: depend` decides whether the parent waits for and takes the child's status."""

from __future__ import annotations

import pytest
from gitlab.v4.objects import Project as ProjectProxy

from pc_release.sandbox.gitlab_server import SandboxGitLab

CHILD = """\
stages: [deploy]
deploy-schema:
  stage: deploy
  script: [echo schema]
"""


def parent_ci(trigger: str) -> str:
    return f"""\
stages: [build, deploy]
build:
  stage: build
  script: [echo build]
deploy-child:
  stage: deploy
  trigger:
{trigger}
"""


def pipeline_with_child(project: ProjectProxy, server: SandboxGitLab, origin, trigger: str) -> tuple[int, int]:
    """(parent, child) pipeline ids once the parent's build passed and its trigger job started the child."""
    origin.commit({".gitlab-ci.yml": parent_ci(trigger), "ci/child.yml": CHILD})
    parent = project.pipelines.create({"ref": "master"}).id
    server.set_job_status(parent, "build", "success")
    (bridge,) = project.pipelines.get(parent).bridges.list()
    return parent, bridge.downstream_pipeline["id"]


def status(project: ProjectProxy, pipeline_id: int) -> str:
    return project.pipelines.get(pipeline_id).status


def test_a_child_pipeline_runs_the_included_file_and_its_trigger_job_is_only_a_bridge(
    project: ProjectProxy, server: SandboxGitLab, origin
) -> None:
    parent, child = pipeline_with_child(project, server, origin, "    include: ci/child.yml")

    assert [j.name for j in project.pipelines.get(parent).jobs.list()] == ["build"]
    assert "deploy-child" not in [j.name for j in project.jobs.list(get_all=True)]
    (bridge,) = project.pipelines.get(parent).bridges.list()
    assert (bridge.name, bridge.stage, bridge.status) == ("deploy-child", "deploy", "success")
    downstream = project.pipelines.get(child)
    assert (downstream.source, downstream.sha, downstream.ref) == ("parent_pipeline", bridge.commit["id"], "master")
    assert bridge.downstream_pipeline["project_id"] == 1
    assert [j.name for j in downstream.jobs.list()] == ["deploy-schema"]


def test_without_depend_the_parent_succeeds_whatever_the_child_does(
    project: ProjectProxy, server: SandboxGitLab, origin
) -> None:
    parent, child = pipeline_with_child(project, server, origin, "    include: [{local: ci/child.yml}]")
    assert status(project, parent) == "success"

    server.set_job_status(child, "deploy-schema", "failed")

    assert status(project, child) == "failed"
    assert status(project, parent) == "success"
    assert project.pipelines.get(parent).bridges.list()[0].status == "success"


@pytest.mark.parametrize(
    ("child_job", "bridge", "parent"), [("success", "success", "success"), ("failed", "failed", "failed")]
)
def test_with_depend_the_trigger_job_waits_for_and_takes_the_childs_status(
    project: ProjectProxy, server: SandboxGitLab, origin, child_job: str, bridge: str, parent: str
) -> None:
    parent_id, child = pipeline_with_child(project, server, origin, "    include: ci/child.yml\n    strategy: depend")
    assert project.pipelines.get(parent_id).bridges.list()[0].status == "running"
    assert status(project, parent_id) == "running"

    server.set_job_status(child, "deploy-schema", child_job)

    assert project.pipelines.get(parent_id).bridges.list()[0].status == bridge
    assert status(project, parent_id) == parent


def test_a_child_pipeline_speaks_neither_for_its_ref_nor_for_its_commit(
    project: ProjectProxy, server: SandboxGitLab, origin
) -> None:
    parent, child = pipeline_with_child(project, server, origin, "    include: ci/child.yml")

    assert child in [p.id for p in project.pipelines.list(get_all=True)]  # the project's list has every pipeline
    assert project.pipelines.latest(ref="master").id == parent
    assert project.commits.get("master").last_pipeline["id"] == parent


def test_cancel_reaches_the_child_pipeline(project: ProjectProxy, server: SandboxGitLab, origin) -> None:
    parent, child = pipeline_with_child(project, server, origin, "    include: ci/child.yml\n    strategy: depend")

    project.pipelines.get(parent).cancel()

    assert (status(project, parent), status(project, child)) == ("canceled", "canceled")


def test_a_multi_project_trigger_to_a_project_gitlab_cannot_find_fails(
    project: ProjectProxy, server: SandboxGitLab, origin
) -> None:
    origin.commit({".gitlab-ci.yml": parent_ci("    project: platform/other-project")})
    parent = project.pipelines.create({"ref": "master"}).id
    server.set_job_status(parent, "build", "success")

    (bridge,) = project.pipelines.get(parent).bridges.list()
    assert (bridge.status, bridge.failure_reason, bridge.downstream_pipeline) == (
        "failed",
        "downstream_bridge_project_not_found",
        None,
    )
    assert status(project, parent) == "failed"
