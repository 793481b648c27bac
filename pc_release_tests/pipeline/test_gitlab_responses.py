"""Release verdicts from GitLab's REST responses in their documented shape (copies of
shared/reference_data/gitlab/ in gitlab_reference/, so the suite runs anywhere): what real GitLab sends, not
what the sandbox happens to send."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from pc_release.policy.pipeline import record as record_rules
from pc_release.policy.pipeline import stages as stage_rules
from pc_release.policy.pipeline.downstream import downstream_of
from pc_release.release_config import DEFAULT_RELEASE_CONFIG, ReleaseConfig
from pc_release.resources.gitlab import _bridge, _job, _pipeline

REFERENCE = Path(__file__).resolve().parent / "gitlab_reference"
JOB = json.loads((REFERENCE / "pipeline_jobs_list.json").read_text())[0]
PIPELINE = json.loads((REFERENCE / "pipeline_single.json").read_text())
RUNTIMES = ["api"]
# One job per pc-release stage of the default release config, by GitLab stage.
RELEASE_JOBS = (
    ("openapi-contract", "contracts"),
    ("backend-test", "build-test"),
    ("publish:api", "package"),
    ("platform_control_assemble_runtime_digests", "digest-fan-in"),
    ("deploy-manifests", "deploy"),
    ("web-smoke", "remote-validation"),
)


def documented_job(job_id: int, name: str, stage: str, status: str = "success", **fields) -> dict:
    """A job as GET /projects/:id/pipelines/:pipeline_id/jobs documents it, with its identity replaced."""
    job = copy.deepcopy(JOB) | {"id": job_id, "name": name, "stage": stage, "status": status} | fields
    job["web_url"] = f"https://example.com/foo/bar/-/jobs/{job_id}"
    assert "retried" not in job  # GitLab's REST job entity has no such field
    return job


def green_jobs() -> list[dict]:
    return [documented_job(100 + i, name, stage) for i, (name, stage) in enumerate(RELEASE_JOBS)]


def verdict(jobs: list[dict], pipeline_status: str = "success", config: ReleaseConfig = DEFAULT_RELEASE_CONFIG):
    """The record's final word on a pipeline whose jobs GitLab listed as `jobs` (newest first, as GitLab does)."""
    pipeline = _pipeline(PIPELINE | {"status": pipeline_status})
    infos = [_job(attrs) for attrs in sorted(jobs, key=lambda j: j["id"], reverse=True)]
    stages = stage_rules.pipeline_stages(
        config,
        infos,
        runtimes=RUNTIMES,
        mode="full",
        profile="standard",
        pipeline_status=pipeline.status,
    )
    return record_rules.final_validation("release", pipeline, stages), {s.stage: s for s in stages}


def test_documented_green_pipeline_is_released():
    final, stages = verdict(green_jobs())
    assert final.ok, final.reason
    assert all(stage.status == "passed" for stage in stages.values())


def test_deploy_job_that_failed_then_passed_on_retry_is_released_with_the_failed_attempt_shown():
    # include_retried=true: both attempts of deploy-manifests, told apart only by their ids.
    failed = documented_job(90, "deploy-manifests", "deploy", "failed", failure_reason="script_failure")
    jobs = [*green_jobs(), failed]

    final, stages = verdict(jobs)

    assert final.ok, final.reason
    assert final.reason.startswith("released")
    (row,) = stages["deployment"].jobs
    assert (row.id, row.status, row.earlier_attempts) == (104, "success", ["#90 failed"])
    assert stages["deployment"].status == "passed"


def test_deploy_job_that_passed_then_failed_on_retry_is_not_released():
    jobs = [
        *(j for j in green_jobs() if j["name"] != "deploy-manifests"),
        documented_job(90, "deploy-manifests", "deploy", "success"),
        documented_job(190, "deploy-manifests", "deploy", "failed", failure_reason="script_failure"),
    ]

    final, stages = verdict(jobs, pipeline_status="failed")

    assert not final.ok and final.reason.startswith("failed")
    (row,) = stages["deployment"].jobs
    assert (row.id, row.state, row.earlier_attempts) == (190, "failed", ["#90 success"])


def never_run(job: dict) -> dict:
    """The job as GitLab lists a job-level `when: manual` job nobody ran: optional, so allowed to fail."""
    never = {"status": "manual", "allow_failure": True, "started_at": None, "finished_at": None, "duration": None}
    return job | never | {"queued_duration": None, "artifacts": [], "artifacts_file": None}


@pytest.mark.parametrize("name", ["deploy-manifests", "web-smoke"])
def test_manual_deploy_or_validation_job_that_never_ran_is_never_passed(name):
    # GitLab calls this pipeline `success`: an optional manual job does not hold it up.
    jobs = [never_run(j) if j["name"] == name else j for j in green_jobs()]

    final, stages = verdict(jobs)

    stage = next(s for s in stages.values() if any(row.name == name for row in s.jobs))
    assert stage.status == "waiting_for_manual" and not stage.settled
    assert not final.ok and final.reason.startswith("not released: pipeline success")
    assert f"{stage.stage} waiting_for_manual" in final.reason
    assert f"{name} is a manual job that has not run" in final.reason and "optional_release_jobs" in final.reason
    assert stage_rules.awaiting_manual_action("success", list(stages.values())) == [name]


def test_manual_job_named_optional_for_a_release_does_not_hold_it():
    jobs = [*green_jobs(), never_run(documented_job(200, "smoke-production", "remote-validation"))]
    config = ReleaseConfig(optional_release_jobs=["smoke-*"])

    final, stages = verdict(jobs, config=config)

    assert final.ok and final.reason.startswith("released"), final.reason
    assert stages["remote_validation"].status == "passed"
    assert stage_rules.awaiting_manual_action("success", list(stages.values())) == []
    assert not verdict(jobs)[0].ok  # without the option, the same pipeline is not released


def test_documented_bridge_to_another_projects_pipeline_is_named_not_followed():
    # GitLab's documented trigger job: its downstream pipeline runs in another project (diaspora/diaspora-client).
    (bridge,) = [_bridge(item) for item in json.loads((REFERENCE / "pipeline_bridges_list.json").read_text())]
    pipeline = _pipeline(PIPELINE | {"status": "success"})
    infos = [_job(attrs) for attrs in green_jobs()]
    stages = stage_rules.pipeline_stages(
        DEFAULT_RELEASE_CONFIG, infos, runtimes=RUNTIMES, mode="full", profile="standard", pipeline_status="success"
    )

    downstream = [downstream_of(bridge, pipeline.project_id)]
    verdict = record_rules.final_validation("release", pipeline, stages, (), downstream)

    assert not downstream[0].followed
    assert verdict.ok and verdict.warning  # released, over a downstream pipeline it did not read: said so
    assert "teaspoon" in verdict.reason and "not followed" in verdict.reason
    assert "diaspora/diaspora-client/pipelines/5" in verdict.reason
