"""Release verdicts from GitLab's REST responses in their documented shape (copies of
shared/reference_data/gitlab/ in gitlab_reference/, so the suite runs anywhere): what real GitLab sends, not
what the sandbox happens to send."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from pc_release.policy import pipeline as rules
from pc_release.release_config import DEFAULT_RELEASE_CONFIG
from pc_release.resources.gitlab import _job, _pipeline

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


def verdict(jobs: list[dict], pipeline_status: str = "success"):
    """The record's final word on a pipeline whose jobs GitLab listed as `jobs` (newest first, as GitLab does)."""
    pipeline = _pipeline(PIPELINE | {"status": pipeline_status})
    infos = [_job(attrs) for attrs in sorted(jobs, key=lambda j: j["id"], reverse=True)]
    stages = rules.pipeline_stages(
        DEFAULT_RELEASE_CONFIG,
        infos,
        runtimes=RUNTIMES,
        mode="full",
        profile="standard",
        pipeline_status=pipeline.status,
    )
    return rules.final_validation("release", pipeline, stages), {s.stage: s for s in stages}


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
