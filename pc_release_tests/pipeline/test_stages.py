"""Release pipelines scripted on the sandbox GitLab through success and each failure class: the stage assets
materialize in order, the checks fail with the policy's owning-layer hint, and each pipeline gets one record."""

import json

import dagster as dg
import pytest

from pc_release_tests.conftest import TOKEN
from pc_release_tests.pipeline.harness import (
    DIGESTS,
    LINEAGE,
    dist_dir,
    evaluations,
    finish_stage,
    history,
    job_names,
    materialized,
    meta,
    observed,
    publish,
    release,
    released,
)


def records_of(instance, pipeline_id: int) -> list[dict]:
    return [meta(r) for r in history(instance, "release_record") if meta(r)["pipeline_id"] == pipeline_id]


def record_file(world, pipeline_id: int) -> dict:
    return json.loads((dist_dir(world) / f"platform-control-release-record-{pipeline_id}.json").read_text())


def run_through_package(server, pid, digests=DIGESTS):
    finish_stage(server, pid, "contracts")
    finish_stage(server, pid, "build-test")
    for runtime, digest in digests.items():
        publish(server, pid, runtime, digest=digest)


def test_green_pipeline_materializes_every_stage_in_order_with_one_record(platform, instance, driver):
    world, server = platform
    pid, out = release(world, server, instance)

    first = driver.tick()
    assert materialized(first) == []  # contracts still pending: nothing finished yet

    finish_stage(server, pid, "contracts")
    assert materialized(driver.tick()) == ["contracts"]
    finish_stage(server, pid, "build-test")
    assert materialized(driver.tick()) == ["build_test"]
    publish(server, pid, "api", digest=DIGESTS["api"])
    assert materialized(driver.tick()) == []  # publish:web still pending: the package stage has not finished
    publish(server, pid, "web", digest=DIGESTS["web"])
    tick = driver.tick()
    assert materialized(tick) == ["package", "runtime_digest[api]", "runtime_digest[web]"]
    assert evaluations(tick)[("package", "runtimes_have_publish_jobs")].passed
    assert set(instance.get_dynamic_partitions("runtime")) == {"api", "web"}
    for stage in ("digest-fan-in", "deploy", "remote-validation"):
        finish_stage(server, pid, stage)
    tick = driver.tick()
    assert materialized(tick) == ["digest_fan_in", "deployment", "remote_validation", "release_record"]
    checks = evaluations(tick)
    assert checks[("digest_fan_in", "runtime_digests_present")].passed
    assert checks[("release_record", "final_validation")].passed
    assert all(e.passed for e in checks.values())

    # Stage materializations happened in pipeline order and carry jobs, statuses, durations and URLs.
    order = sorted((record.storage_id, name) for name in LINEAGE for record in history(instance, name))
    assert [name for _, name in order] == [
        "contracts",
        "build_test",
        "package",
        "runtime_digest",
        "runtime_digest",
        "digest_fan_in",
        "deployment",
        "remote_validation",
        "release_record",
    ]
    package = meta(history(instance, "package")[-1])
    assert package["pipeline_id"] == pid and package["stage_status"] == "passed"
    assert package["job_statuses"] == {"publish:api": "success", "publish:web": "success"}
    assert set(package["job_durations"]) == {"publish:api", "publish:web"}
    assert all(url.startswith(server.url) and "/-/jobs/" in url for url in package["job_urls"].values())
    assert package["pipeline_url"].endswith(f"/-/pipelines/{pid}")
    api = [meta(r) for r in history(instance, "runtime_digest") if r.partition_key == "api"][-1]
    assert api["digest"] == DIGESTS["api"] and api["publish_job"] == "publish:api"

    # The record: once, with the handoff's facts, in the UI and as JSON beside the candidate env.
    (record,) = records_of(instance, pid)
    assert record["status"] == "released"
    assert record["sha"] == out.candidate["PLATFORM_CONTROL_RELEASE_SHA"]
    assert "## released" in record["record"]
    saved = record_file(world, pid)
    assert (dist_dir(world) / "platform-control-release-candidate.env").exists()
    assert saved["status"] == "released" and saved["kind"] == "release"
    assert saved["pipeline_url"] == record["pipeline_url"]
    assert saved["source_ref"] == "refs/remotes/origin/master"  # the default, by its full name
    assert (saved["mode"], saved["profile"]) == ("full", "standard")
    assert {r["runtime"]: r["digest"] for r in saved["runtimes"]} == DIGESTS
    gates = {g["name"]: g["outcome"] for g in saved["gates"]}
    assert gates["master_ci_green_on_exact_sha"] == "passed"
    assert gates["local_preflight_gate"] == "warning"  # skipped intentionally, recorded as such
    assert gates["failed_sha_retry"] == "passed"
    assert gates["stage remote_validation"] == "passed"
    assert gates["runtime_image_conformance"] == "not checked"
    assert saved["started_at"] and saved["finished_at"]
    checklist = {c["item"]: c for c in saved["checklist"]}
    assert checklist["CI green on the exact SHA being promoted"]["status"] == "proved"
    assert checklist["Local preflight run and reviewed"]["status"] == "warning"
    assert checklist["Generated artifacts required by CI are committed"]["status"] in ("proved", "not checked")

    # Later ticks report nothing new: the pipeline is no longer followed.
    assert driver.tick().asset_events == []
    assert len(records_of(instance, pid)) == 1


def test_failed_publish_job_points_at_the_runtime_dockerfile(platform, instance, driver):
    world, server = platform
    pid, _ = release(world, server, instance)
    finish_stage(server, pid, "contracts")
    finish_stage(server, pid, "build-test")
    publish(server, pid, "web", digest=DIGESTS["web"])
    log = "".join(f"step {n}\n" for n in range(1, 31))
    log += f"push with {TOKEN} and glpat-abcdefghij0123456789\nERROR: denied\n"
    server.append_job_trace(pid, "publish:api", log)
    publish(server, pid, "api", status="failed")

    tick = driver.tick()

    # GitLab skips every later stage: they did not run, so they do not materialize; the record of the failed
    # pipeline is an observation, never a (green) materialization.
    assert materialized(tick) == [
        "contracts",
        "build_test",
        "package",
        "runtime_digest[api]",
        "runtime_digest[web]",
    ]
    assert observed(tick) == ["release_record"]
    package = evaluations(tick)[("package", "stage_passed")]
    assert not package.passed
    assert "publish:api" in package.description and "runtimes/api/Dockerfile" in package.description
    assert "not the publish check" in package.description
    # The end of the failed job's log is on the stage asset, its secrets masked.
    logs = meta(history(instance, "package")[-1])["failed_job_logs"]
    assert "**publish:api**" in logs and "step 13\n" in logs and "step 12\n" not in logs
    assert "ERROR: denied" in logs and "push with [REDACTED] and [MASKED]" in logs
    assert TOKEN not in logs and "glpat-abcdefghij" not in logs
    api = [meta(r) for r in history(instance, "runtime_digest") if r.partition_key == "api"][-1]
    assert api["digest"] == "missing" and api["job_status"] == "failed"
    (record,) = records_of(instance, pid)
    assert record["status"] == "failed"
    stages = {s["stage"]: s["status"] for s in record_file(world, pid)["stages"]}
    assert stages["package"] == "failed"
    assert stages["deployment"] == stages["remote_validation"] == "skipped"
    assert not evaluations(tick)[("release_record", "final_validation")].passed


def test_missing_digest_fails_the_fan_in_check_even_on_a_green_pipeline(platform, instance, driver):
    world, server = platform
    pid, _ = release(world, server, instance)
    run_through_package(server, pid, {"web": DIGESTS["web"], "api": None})
    for stage in ("digest-fan-in", "deploy", "remote-validation"):
        finish_stage(server, pid, stage)

    tick = driver.tick()

    digests = evaluations(tick)[("digest_fan_in", "runtime_digests_present")]
    assert not digests.passed
    assert (
        "api (publish:api has no downloadable runtime-digest.env: GitLab serves a dotenv report for download only "
        "when `artifacts:paths` lists it too)" in digests.description
    )
    assert "runtime matrix" in digests.description and "publish job graph" in digests.description
    assert "digest fan-in" in digests.description
    (record,) = records_of(instance, pid)
    assert record["pipeline_status"] == "success"
    assert record["status"] == "not released"
    final = evaluations(tick)[("release_record", "final_validation")]
    assert not final.passed and "runtime_digests_present" in final.description


@pytest.mark.parametrize(
    ("artifact", "problem"),
    [
        # GitLab keeps quotes as written: this value is `"sha256:..."`, not a digest.
        (f'PLATFORM_CONTROL_RUNTIME_DIGEST_API="{DIGESTS["api"]}"\n', "='\"sha256:"),
        # GitLab refuses a report with a comment or a blank line; pc-release reads it as GitLab would.
        (f"# api digest\nPLATFORM_CONTROL_RUNTIME_DIGEST_API={DIGESTS['api']}\n", "is not a dotenv report: line 1"),
        (f"PLATFORM_CONTROL_RUNTIME_DIGEST_API={DIGESTS['api']}\n\n", "is not a dotenv report: line 2"),
    ],
)
def test_digest_artifact_is_read_with_gitlabs_dotenv_rules(platform, instance, driver, artifact, problem):
    world, server = platform
    pid, _ = release(world, server, instance)
    run_through_package(server, pid, {"web": DIGESTS["web"]})
    server.set_job_artifact(pid, "publish:api", "runtime-digest.env", artifact.encode())
    server.set_job_status(pid, "publish:api", "success")
    for stage in ("digest-fan-in", "deploy", "remote-validation"):
        finish_stage(server, pid, stage)

    tick = driver.tick()

    digests = evaluations(tick)[("digest_fan_in", "runtime_digests_present")]
    assert not digests.passed and problem in digests.description, digests.description
    (record,) = records_of(instance, pid)
    assert record["status"] == "not released"


def test_failed_remote_validation_cleanup_points_at_lifecycle_code(platform, instance, driver):
    world, server = platform
    pid, _ = release(world, server, instance)
    run_through_package(server, pid)
    finish_stage(server, pid, "digest-fan-in")
    finish_stage(server, pid, "deploy")
    assert materialized(driver.tick()) == [
        "contracts",
        "build_test",
        "package",
        "runtime_digest[api]",
        "runtime_digest[web]",
        "digest_fan_in",
        "deployment",
    ]
    for name in job_names(server, pid, "remote-validation"):
        server.set_job_status(pid, name, "failed" if name == "disposable-cleanup" else "success")

    tick = driver.tick()

    assert materialized(tick) == ["remote_validation"]
    assert observed(tick) == ["release_record"]
    check = evaluations(tick)[("remote_validation", "stage_passed")]
    assert not check.passed
    assert "disposable-cleanup" in check.description and "lifecycle/read-model" in check.description
    (record,) = records_of(instance, pid)
    assert record["status"] == "failed"
    hints = {s["stage"]: s["hints"] for s in record_file(world, pid)["stages"]}
    assert any("lifecycle/read-model" in hint for hint in hints["remote_validation"])


def test_canceling_then_canceled_is_recorded_once_as_canceled(platform, instance, driver):
    world, server = platform
    pid, _ = release(world, server, instance)
    finish_stage(server, pid, "contracts")
    server.set_job_status(pid, "backend-test", "running")
    server.set_job_status(pid, "backend-test", "canceling")
    server.set_pipeline_status(pid, "canceling")

    tick = driver.tick()
    assert materialized(tick) == ["contracts"]  # canceling is not an end: no record yet
    assert records_of(instance, pid) == []

    for name in job_names(server, pid):
        if name not in ("openapi-contract", "release-branch-guard"):
            server.set_job_status(pid, name, "canceled")
    assert next(p for p in server.pipelines() if p["id"] == pid)["status"] == "canceled"
    tick = driver.tick()

    assert materialized(tick) == ["build_test"]
    assert observed(tick) == ["release_record"]
    assert not evaluations(tick)[("build_test", "stage_passed")].passed
    (record,) = records_of(instance, pid)
    assert record["status"] == "canceled" and record["pipeline_status"] == "canceled"
    stages = {s["stage"]: s["status"] for s in record_file(world, pid)["stages"]}
    assert stages["contracts"] == "passed" and stages["build_test"] == "canceled"
    assert driver.tick().asset_events == []


def test_retried_job_counts_by_its_latest_attempt_and_shows_the_earlier_one(platform, instance, driver):
    world, server = platform
    pid, _ = release(world, server, instance)
    finish_stage(server, pid, "contracts")
    finish_stage(server, pid, "build-test")
    server.set_job_status(pid, "publish:web", "running")
    publish(server, pid, "api", status="failed")
    assert materialized(driver.tick()) == ["contracts", "build_test"]  # publish:web still running

    server.retry_job(pid, "publish:api")
    publish(server, pid, "api", digest=DIGESTS["api"])
    publish(server, pid, "web", digest=DIGESTS["web"])
    tick = driver.tick()

    assert materialized(tick) == ["package", "runtime_digest[api]", "runtime_digest[web]"]
    assert evaluations(tick)[("package", "stage_passed")].passed
    package = meta(history(instance, "package")[-1])
    assert package["retried_jobs"] == ["publish:api"]
    assert "failed" in package["jobs"] and "success" in package["jobs"]  # both attempts in the jobs table

    # A job retried after its stage was reported changes the outcome: the stage is reported again.
    finish_stage(server, pid, "digest-fan-in")
    assert materialized(driver.tick()) == ["digest_fan_in"]
    server.retry_job(pid, "platform_control_assemble_runtime_digests")
    server.set_job_status(pid, "platform_control_assemble_runtime_digests", "success")
    assert materialized(driver.tick()) == ["digest_fan_in"]
    assert len(history(instance, "digest_fan_in")) == 2
    for stage in ("deploy", "remote-validation"):
        finish_stage(server, pid, stage)
    driver.tick()
    (record,) = records_of(instance, pid)
    assert record["status"] == "released"
    jobs = {j["name"]: j for s in record_file(world, pid)["stages"] for j in s["jobs"]}
    assert jobs["publish:api"]["status"] == "success" and jobs["publish:api"]["earlier_attempts"][0].endswith("failed")


def test_dev_test_deploy_is_recorded_as_not_released_whatever_its_status(platform, instance, driver):
    world, server = platform
    pid, out = release(world, server, instance, job="dev_test_deploy", source_ref="HEAD")
    assert out.candidate["PLATFORM_CONTROL_RELEASE_KIND"] == "dev-test"
    server.set_all_jobs_status(pid, "success")

    tick = driver.tick()

    (record,) = records_of(instance, pid)
    assert record["status"] == "dev-test, not released" and record["kind"] == "dev-test"
    assert record_file(world, pid)["mode"] == "deploy"
    final = evaluations(tick)[("release_record", "final_validation")]
    assert final.severity == dg.AssetCheckSeverity.WARN and "dev-test, not released" in final.description


def test_web_fast_records_what_the_profile_leaves_out_never_as_a_failure(platform, instance, driver):
    world, server = platform
    # web-fast is judged against the last release recorded as released: make that the SHA just before this change.
    released(world, server, instance, driver)
    pid, _ = release(world, server, instance, change="runtimes/web/banner.txt", profile="web-fast")
    assert "publish:api" not in job_names(server, pid)
    finish_stage(server, pid, "contracts")
    finish_stage(server, pid, "build-test")
    publish(server, pid, "web", digest=DIGESTS["web"])
    for stage in ("digest-fan-in", "deploy", "remote-validation"):
        finish_stage(server, pid, stage)

    tick = driver.tick()

    assert "runtime_digest[api]" not in materialized(tick)
    checks = evaluations(tick)
    assert all(e.passed for e in checks.values()), {k: e.description for k, e in checks.items() if not e.passed}
    assert "not run by profile/mode: api" in checks[("package", "runtimes_have_publish_jobs")].description
    saved = record_file(world, pid)
    assert saved["status"] == "released" and saved["profile"] == "web-fast"
    assert {r["runtime"]: r["outcome"] for r in saved["runtimes"]} == {
        "api": "not run by profile/mode",
        "web": "published",
    }
    assert "runtime api" in saved["not_run_by_profile"]


def test_deploy_mode_records_report_only_evidence_as_not_run(platform, instance, driver):
    world, server = platform
    pid, _ = release(world, server, instance, mode="deploy")
    assert "post-deploy-runtime-evidence" not in job_names(server, pid)
    server.set_all_jobs_status(pid, "success")
    for runtime, digest in DIGESTS.items():
        publish(server, pid, runtime, digest=digest)

    driver.tick()

    saved = record_file(world, pid)
    assert saved["status"] == "released" and saved["mode"] == "deploy"
    assert "post-deploy-runtime-evidence (deploy mode skips report-only evidence)" in saved["not_run_by_profile"]
    remote = next(s for s in saved["stages"] if s["stage"] == "remote_validation")
    assert remote["status"] == "passed"
