"""The failed-SHA retry rule through the promote_release job: a SHA whose last release pipeline failed is refused
before anything is pushed, and allowed again only with a transient-infrastructure reason; both are recorded."""

import dagster as dg

from pc_release_tests.gitworld import git
from pc_release_tests.pipeline.harness import (
    DIGESTS,
    finish_stage,
    history,
    meta,
    publish,
    release,
)
from pc_release_tests.promotion_harness import promote, release_pipelines

NO_PREFLIGHT = {"skip_local_preflight": True}


def retry_evaluations(instance) -> list[dg.AssetCheckEvaluation]:
    found = []
    for run in instance.get_runs():
        for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = entry.dagster_event.event_specific_data
            if evaluation.check_name == "failed_sha_retry":
                found.append((entry.timestamp, evaluation))
    return [evaluation for _, evaluation in sorted(found, key=lambda pair: pair[0])]


def test_failed_sha_is_refused_then_allowed_with_a_transient_reason(platform, instance, driver):
    world, server = platform
    failed_pid, first = release(world, server, instance)
    failed_sha = first.candidate["PLATFORM_CONTROL_RELEASE_SHA"]
    finish_stage(server, failed_pid, "contracts")
    finish_stage(server, failed_pid, "build-test")
    publish(server, failed_pid, "api", status="failed")
    publish(server, failed_pid, "web", digest=DIGESTS["web"])
    driver.tick()
    assert meta(history(instance, "release_record")[-1])["status"] == "failed"

    # Master moves on and is released; then someone tries the failed SHA again (e.g. as a rollback target).
    newer_pid, newer = release(world, server, instance)
    released = world.release_sha()
    assert released == newer.candidate["PLATFORM_CONTROL_RELEASE_SHA"] != failed_sha
    pipelines_before = len(release_pipelines(server))

    blocked = promote(world, server.url, instance, config={"source_ref": failed_sha} | NO_PREFLIGHT)

    assert not blocked.success
    assert blocked.check("failed_sha_retry") is False
    assert "failed_sha_retry" in blocked.summary.failed_rules
    assert world.release_sha() == released  # nothing pushed
    assert len(release_pipelines(server)) == pipelines_before  # nothing triggered
    assert "master_ci" not in blocked.summary.metadata  # the gate stopped the lineage right after source_commit
    refusal = retry_evaluations(instance)[-1]
    assert not refusal.passed
    assert f"release pipeline {failed_pid} for {failed_sha} failed" in refusal.description
    assert "transient_retry_reason" in refusal.description
    assert refusal.metadata["last_pipeline_status"].value == "failed"

    reason = "runner lost its docker socket mid-publish (INFRA-4121)"
    allowed = promote(
        world, server.url, instance, config={"source_ref": failed_sha, "transient_retry_reason": reason} | NO_PREFLIGHT
    )

    assert allowed.success, allowed.summary.text
    assert "gate failed_sha_retry: WARNING" in allowed.summary.text
    assert world.release_sha() == failed_sha
    retry_pid = int(allowed.summary.metadata["release_pipeline"]["pipeline_id"])
    assert retry_pid not in (failed_pid, newer_pid)
    permission = retry_evaluations(instance)[-1]
    assert permission.metadata["transient_retry_reason"].value == reason
    assert reason in permission.description

    # The retried pipeline's record carries the operator's statement.
    server.set_all_jobs_status(retry_pid, "success")
    for runtime, digest in DIGESTS.items():
        publish(server, retry_pid, runtime, digest=digest)
    driver.tick()
    record = next(meta(r) for r in history(instance, "release_record") if meta(r)["pipeline_id"] == retry_pid)
    assert record["status"] == "released"
    assert reason in record["record"]
    assert git(world.clone, "rev-parse", "origin/release/platform-control") == failed_sha


def test_re_running_a_request_whose_pipeline_is_still_running_is_not_blocked(platform, instance):
    world, server = platform
    pid, _ = release(world, server, instance)
    again = promote(world, server.url, instance, config=NO_PREFLIGHT)
    assert again.success and again.check("failed_sha_retry") is True
    assert int(again.summary.metadata["release_pipeline"]["pipeline_id"]) == pid
