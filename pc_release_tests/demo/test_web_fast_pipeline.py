"""PLATFORM_CONTROL_RELEASE_PROFILE=web-fast narrows a real release pipeline of the sample repo, run by the
sandbox GitLab's local runner, to the policy's web-fast scope: contracts, frontend build/test, the web runtime's
publish and deploy, and the light web smoke."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import gitlab
import pytest

from pc_release.models import PromotionRequest
from pc_release.policy.promotion import pipeline_variables
from pc_release.resources.gitlab import GitLabResource
from pc_release.sandbox.gitlab_server import SandboxGitLab
from pc_release.sandbox.sample import RELEASE_BRANCH, create_sample_origin
from pc_release_tests.conftest import TOKEN

PROJECT = "platform/platform-control"
# The policy's web-fast scope, job by job, as the sample's .gitlab-ci.yml implements it.
WEB_FAST_JOBS = {
    "openapi-contract": "contracts",
    "asyncapi-contract": "contracts",
    "release-branch-guard": "contracts",
    "frontend-test": "build-test",
    "publish:web": "package",
    "platform_control_assemble_runtime_digests": "digest-fan-in",
    "deploy-manifests": "deploy",
    "rollout": "deploy",
    "web-smoke": "remote-validation",
}


def test_web_fast_release_pipeline_runs_only_the_web_fast_jobs(tmp_path: Path, monkeypatch) -> None:
    origin, _ = create_sample_origin(tmp_path / "git")
    environment = tmp_path / "environment"
    # Job processes inherit the runner's environment: the deploy target, and `pc-release` for the guard job.
    monkeypatch.setenv("PC_SANDBOX_ENVIRONMENT_DIR", str(environment))
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    release_sha = subprocess.run(
        ["git", f"--git-dir={origin}", "rev-parse", RELEASE_BRANCH], capture_output=True, text=True, check=True
    ).stdout.strip()
    variables = pipeline_variables(PromotionRequest(profile="web-fast"), "web-fast-test")
    assert variables["PLATFORM_CONTROL_RELEASE_PROFILE"] == "web-fast"

    with SandboxGitLab(origin, TOKEN, run_jobs=True, state_dir=tmp_path / "gitlab") as server:
        resource = GitLabResource(url=server.url, project=PROJECT, token=TOKEN)
        pipeline, created = resource.create_release_pipeline(release_sha, variables, pipelines_before_push=0)
        assert created
        deadline = time.monotonic() + 180
        while not (pipeline := resource.pipeline(pipeline.id)).terminal:
            if time.monotonic() > deadline:
                pytest.fail(f"pipeline {pipeline.id} still {pipeline.status}")
            time.sleep(0.3)
        jobs = resource.pipeline_jobs(pipeline.id)
        project = gitlab.Gitlab(server.url, private_token=TOKEN).projects.get(PROJECT)
        traces = {job.name: project.jobs.get(job.id).trace().decode() for job in jobs}

    assert {job.name: job.stage for job in jobs} == WEB_FAST_JOBS
    assert pipeline.status == "success"
    assert {job.name: job.status for job in jobs} == dict.fromkeys(WEB_FAST_JOBS, "success")
    for name, trace in traces.items():
        # Each job really ran as a process on the pipeline's SHA with the pipeline's profile.
        assert f"[{name}] source {pipeline.sha} on {RELEASE_BRANCH} (mode=full, profile=web-fast)" in trace
        assert "Job succeeded" in trace
    # Only the web runtime was published and deployed; the others stay as the previous release left them.
    release = json.loads((environment / "release.json").read_text())
    assert pipeline.sha == release_sha
    assert release == {"source_sha": pipeline.sha, "profile": "web-fast", "runtimes": ["web"]}
    assert set(json.loads((environment / "images.json").read_text())) == {"web"}
