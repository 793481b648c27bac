"""Trigger jobs and the pipelines they start, driven through the sandbox GitLab: a child pipeline's jobs count in
the release's stages (a deploy stage living in a child pipeline is found), a parent GitLab calls green is not
"released" when its child failed (with or without `strategy: depend`), and a downstream pipeline pc-release does
not follow is named in the record."""

from pc_release.resources.gitlab import GitLabResource
from pc_release_tests.conftest import TOKEN
from pc_release_tests.gitworld import git
from pc_release_tests.pipeline.harness import (
    DIGESTS,
    evaluations,
    finish_stage,
    publish,
    release,
)
from pc_release_tests.pipeline.test_stages import record_file, records_of
from pc_release_tests.pipeline.world import CI_YAML, RELEASE_CONFIG
from pc_release_tests.promotion_harness import PROJECT

DEPLOY_JOBS = CI_YAML[CI_YAML.index("deploy-schema:") : CI_YAML.index("web-smoke:")]
DEPLOY_CHILD = "stages: [deploy]\n" + DEPLOY_JOBS.replace("  extends: .release-job\n", "").replace(
    "  extends: .release-web-job\n", ""
)
SECRETS_CHILD = """\
stages: [deploy]
reconcile-controller-secrets:
  stage: deploy
  script: [echo secrets]
"""


def trigger_job(name: str, trigger: str, extra: str = "") -> str:
    return f"{name}:\n  extends: .release-web-job\n  stage: deploy\n{extra}  trigger:\n{trigger}"


def with_ci(world, ci_yaml: str, files: dict[str, str]) -> None:
    world.commit("trigger jobs", {".gitlab-ci.yml": ci_yaml, ".pc-release.yaml": RELEASE_CONFIG, **files})
    world.push("master")


def child_of(server, pid: int, bridge: str) -> int:
    found = next(b for b in server.bridges(pid) if b["name"] == bridge)
    return found["downstream_pipeline"]["id"]


def run_up_to_deploy(server, pid: int) -> None:
    for stage in ("contracts", "build-test"):
        finish_stage(server, pid, stage)
    for runtime, digest in DIGESTS.items():
        publish(server, pid, runtime, digest=digest)
    finish_stage(server, pid, "digest-fan-in")


def status_of(server, pid: int) -> str:
    return next(p for p in server.pipelines() if p["id"] == pid)["status"]


def test_a_deploy_stage_in_a_child_pipeline_is_found_and_released_when_the_child_passes(platform, instance, driver):
    world, server = platform
    parent_ci = CI_YAML.replace(
        DEPLOY_JOBS, trigger_job("deploy", "    include: ci/deploy.yml\n    strategy: depend\n")
    )
    with_ci(world, parent_ci, {"ci/deploy.yml": DEPLOY_CHILD})
    pid, _ = release(world, server, instance)
    run_up_to_deploy(server, pid)
    child = child_of(server, pid, "deploy")
    driver.tick()
    assert records_of(instance, pid) == []

    finish_stage(server, child, "deploy")
    finish_stage(server, pid, "remote-validation")
    tick = driver.tick()

    assert evaluations(tick)[("deployment", "stage_passed")].passed
    (record,) = records_of(instance, pid)
    assert record["status"] == "released"
    deployment = next(s for s in record_file(world, pid)["stages"] if s["stage"] == "deployment")
    assert {j["name"] for j in deployment["jobs"]} == {"deploy-schema", "deploy-manifests", "rollout"}
    assert record_file(world, pid)["downstream_pipelines"] == [f"trigger job deploy: child pipeline {child} success"]


def failed_secrets_child(world, server, instance, driver, trigger: str, extra: str = "") -> tuple[int, dict]:
    """A release whose deploy stage also triggers a child pipeline reconciling secrets, which fails."""
    parent_ci = CI_YAML + trigger_job("controller-secrets", trigger, extra)
    with_ci(world, parent_ci, {"ci/secrets.yml": SECRETS_CHILD})
    pid, _ = release(world, server, instance)
    run_up_to_deploy(server, pid)
    child = child_of(server, pid, "controller-secrets")
    server.set_job_status(child, "reconcile-controller-secrets", "failed")
    finish_stage(server, pid, "deploy")
    finish_stage(server, pid, "remote-validation")
    assert status_of(server, pid) == "success"  # GitLab calls the parent green
    tick = driver.tick()
    return pid, tick


def test_a_parent_gitlab_calls_green_is_not_released_when_its_child_failed(platform, instance, driver):
    world, server = platform
    pid, tick = failed_secrets_child(world, server, instance, driver, "    include: ci/secrets.yml\n")

    deployment = evaluations(tick)[("deployment", "stage_passed")]
    assert not deployment.passed and "reconcile-controller-secrets" in deployment.description
    final = evaluations(tick)[("release_record", "final_validation")]
    assert not final.passed and "child pipeline" in final.description
    (record,) = records_of(instance, pid)
    assert record["status"] == "not released"


def test_a_depend_trigger_allowed_to_fail_does_not_release_over_its_failed_child(platform, instance, driver):
    world, server = platform
    pid, tick = failed_secrets_child(
        world,
        server,
        instance,
        driver,
        "    include: ci/secrets.yml\n    strategy: depend\n",
        "  allow_failure: true\n",
    )

    assert next(b for b in server.bridges(pid) if b["name"] == "controller-secrets")["status"] == "failed"
    assert not evaluations(tick)[("deployment", "stage_passed")].passed
    (record,) = records_of(instance, pid)
    assert record["status"] == "not released"


def test_a_multi_project_trigger_is_named_in_the_record(platform, instance, driver):
    world, server = platform
    parent_ci = CI_YAML + trigger_job("notify-docs", "    project: platform/docs\n", "  allow_failure: true\n")
    with_ci(world, parent_ci, {})
    pid, _ = release(world, server, instance)
    run_up_to_deploy(server, pid)
    finish_stage(server, pid, "deploy")
    finish_stage(server, pid, "remote-validation")

    tick = driver.tick()

    final = evaluations(tick)[("release_record", "final_validation")]
    assert "notify-docs" in final.description and "none followed" in final.description
    (record,) = records_of(instance, pid)
    assert record["status"] == "released"
    assert any("notify-docs" in note for note in record_file(world, pid)["notes"])


def test_a_child_pipeline_never_stands_for_its_parents_ref(platform):
    # GitLab lists a child pipeline under its parent's ref and SHA, newer than the parent: the master CI gate and
    # the failed-SHA rule must still read the parent.
    world, server = platform
    notify = "notify:\n  stage: contracts\n  trigger:\n    include: ci/secrets.yml\n"
    with_ci(world, CI_YAML + notify, {"ci/secrets.yml": SECRETS_CHILD})
    head = git(world.clone, "rev-parse", "origin/master")
    parent = server.create_pipeline("master", sha=head)["id"]
    child = child_of(server, parent, "notify")
    assert child > parent

    gitlab = GitLabResource(url=server.url, project=PROJECT, token=TOKEN)

    assert gitlab.master_pipeline_for(head).id == parent
    assert [p.id for p in gitlab.latest_pipelines("master", per_page=1)] == [parent]
