"""release_pipeline_sensor on a real Dagster instance: idempotent ticks, a cursor that survives a restart, no
duplicate record after a lost cursor, and GitLab requests bounded by the pipelines in flight."""

from pc_release_tests.conftest import seeded_instance
from pc_release_tests.pipeline.harness import (
    DIGESTS,
    LINEAGE,
    SensorDriver,
    finish_stage,
    history,
    materialized,
    meta,
    publish,
    release,
    sensor_resources,
)
from pc_release_tests.promotion_harness import promote


def counts(instance) -> dict[str, int]:
    return {asset: len(history(instance, asset)) for asset in LINEAGE}


def gitlab_requests(server) -> list[str]:
    return [path for method, path in server.request_log if path.startswith("/api/v4/")]


def test_repeated_ticks_add_nothing_and_the_cursor_survives_a_restart(platform, tmp_path):
    world, server = platform
    home = tmp_path / "dagster_home"
    with seeded_instance(home) as instance:
        pid, _ = release(world, server, instance)
        driver = SensorDriver(instance=instance, resources=sensor_resources(world, server.url))
        finish_stage(server, pid, "contracts")
        finish_stage(server, pid, "build-test")
        driver.tick()
        before = counts(instance)
        for _ in range(3):
            assert driver.tick().asset_events == []
        assert counts(instance) == before == {**dict.fromkeys(LINEAGE, 0), "contracts": 1, "build_test": 1}
        saved = driver.cursor

    for runtime, digest in DIGESTS.items():
        publish(server, pid, runtime, digest=digest)

    # The daemon restarts: a new process opens the same instance and builds a fresh context from the saved cursor.
    with seeded_instance(home) as instance:
        restarted = SensorDriver(instance=instance, resources=sensor_resources(world, server.url), cursor=saved)
        assert materialized(restarted.tick()) == ["package", "runtime_digest[api]", "runtime_digest[web]"]
        for stage in ("digest-fan-in", "deploy", "remote-validation"):
            finish_stage(server, pid, stage)
        restarted.tick()
        restarted.tick()
        assert counts(instance) == {
            "contracts": 1,
            "build_test": 1,
            "package": 1,
            "runtime_digest": 2,
            "digest_fan_in": 1,
            "deployment": 1,
            "remote_validation": 1,
            "release_record": 1,
        }


def test_a_lost_cursor_reports_no_stage_or_record_twice(platform, instance, driver):
    world, server = platform
    pid, _ = release(world, server, instance)
    finish_stage(server, pid, "contracts")
    driver.tick()

    driver.cursor = None  # reset by an operator, or a tick whose cursor never got stored
    finish_stage(server, pid, "build-test")
    assert materialized(driver.tick()) == ["build_test"]  # contracts already reported for this pipeline
    server.set_all_jobs_status(pid, "success")
    for runtime, digest in DIGESTS.items():
        publish(server, pid, runtime, digest=digest)
    driver.tick()
    assert len(history(instance, "release_record")) == 1

    driver.cursor = None
    assert driver.tick().asset_events == []
    assert len(history(instance, "release_record")) == 1
    assert len(history(instance, "contracts")) == 1


def test_re_running_a_promotion_of_the_same_request_follows_its_pipeline_once(platform, instance, driver):
    world, server = platform
    pid, _ = release(world, server, instance)
    server.set_all_jobs_status(pid, "success")
    for runtime, digest in DIGESTS.items():
        publish(server, pid, runtime, digest=digest)
    driver.tick()
    again = promote(world, server.url, instance, config={"skip_local_preflight": True})
    assert again.success and again.summary.metadata["release_pipeline"]["pipeline_id"] == pid
    assert driver.tick().asset_events == []
    assert [meta(r)["pipeline_id"] for r in history(instance, "release_record")] == [pid]


def test_gitlab_requests_are_bounded_by_pipelines_in_flight(platform, instance, driver):
    world, server = platform
    server.reset_request_log()
    driver.tick()
    assert gitlab_requests(server) == []  # nothing in flight: not a single GitLab request

    first, _ = release(world, server, instance)
    second, _ = release(world, server, instance)
    server.reset_request_log()
    driver.tick()
    assert len(gitlab_requests(server)) == 6  # per pipeline: the pipeline, its jobs and its trigger jobs

    for pid in (first, second):
        server.set_all_jobs_status(pid, "success")
        for runtime, digest in DIGESTS.items():
            publish(server, pid, runtime, digest=digest)
    server.reset_request_log()
    driver.tick()
    artifacts = [p for p in gitlab_requests(server) if "/artifacts/" in p]
    assert len(artifacts) == 4  # each publish job's digest artifact, read once
    assert len(gitlab_requests(server)) == 6 + 4
    assert len(history(instance, "release_record")) == 2

    # History grows, in-flight count is zero again: back to no GitLab request at all.
    server.reset_request_log()
    driver.tick()
    assert gitlab_requests(server) == []
