"""A `when: manual` job the release requires (deploy, remote validation) is never "passed" while nobody ran it:
the sandbox GitLab, like GitLab, calls such a pipeline `success`; the release waits for the manual action,
unless `.pc-release.yaml` names the job in optional_release_jobs."""

from pc_release_tests.pipeline.harness import DIGESTS, evaluations, finish_stage, materialized, publish, release
from pc_release_tests.pipeline.test_stages import record_file, records_of
from pc_release_tests.pipeline.world import CI_YAML, RELEASE_CONFIG

# A job-level `when: manual` job: GitLab makes it optional (allowed to fail), so it never holds the pipeline up.
MANUAL_SMOKE = """\
smoke-production:
  stage: remote-validation
  when: manual
  script: [echo production smoke]
"""


def with_manual_smoke(world, release_config: str = RELEASE_CONFIG) -> None:
    files = {".gitlab-ci.yml": CI_YAML + MANUAL_SMOKE, ".pc-release.yaml": release_config}
    world.commit("a manual production smoke test", files)
    world.push("master")


def run_all_but_the_manual_job(server, pid) -> None:
    for stage in ("contracts", "build-test"):
        finish_stage(server, pid, stage)
    for runtime, digest in DIGESTS.items():
        publish(server, pid, runtime, digest=digest)
    for stage in ("digest-fan-in", "deploy", "remote-validation"):
        for job in server.jobs(pid):
            if job["stage"] == stage and job["status"] != "manual":
                server.set_job_status(pid, job["name"], "success")


def test_the_release_waits_for_a_required_manual_job_even_when_gitlab_calls_the_pipeline_green(
    platform, instance, driver
):
    world, server = platform
    with_manual_smoke(world)
    pid, _ = release(world, server, instance)
    run_all_but_the_manual_job(server, pid)
    assert next(p for p in server.pipelines() if p["id"] == pid)["status"] == "success"

    tick = driver.tick()

    assert materialized(tick) == [
        "contracts",
        "build_test",
        "package",
        "runtime_digest[api]",
        "runtime_digest[web]",
        "digest_fan_in",
        "deployment",
    ]
    assert records_of(instance, pid) == []  # not "released ... remote validation passed"
    assert driver.tick().asset_events == []  # still followed, still waiting

    server.set_job_status(pid, "smoke-production", "success")  # someone ran it
    tick = driver.tick()

    assert materialized(tick) == ["remote_validation", "release_record"]
    assert evaluations(tick)[("release_record", "final_validation")].passed
    (record,) = records_of(instance, pid)
    assert record["status"] == "released"
    jobs = {j["name"]: j["status"] for s in record_file(world, pid)["stages"] for j in s["jobs"]}
    assert jobs["smoke-production"] == "success"


def test_a_manual_job_named_optional_for_a_release_does_not_hold_it(platform, instance, driver):
    world, server = platform
    with_manual_smoke(world, RELEASE_CONFIG + "optional_release_jobs: [smoke-production]\n")
    pid, _ = release(world, server, instance)
    run_all_but_the_manual_job(server, pid)

    tick = driver.tick()

    assert materialized(tick)[-2:] == ["remote_validation", "release_record"]
    (record,) = records_of(instance, pid)
    assert record["status"] == "released"
    remote = next(s for s in record_file(world, pid)["stages"] if s["stage"] == "remote_validation")
    assert remote["status"] == "passed"
    assert {j["name"]: j["status"] for j in remote["jobs"]}["smoke-production"] == "manual"
