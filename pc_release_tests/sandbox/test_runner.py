"""The local runner: real jobs in real checkouts, driven through the sandbox GitLab and python-gitlab."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from typing import Any

import gitlab
import pytest

from pc_release.sandbox.gitlab_server import SandboxGitLab
from pc_release.sandbox.runner import expand_variables, shell_script

PIPELINE_CI = """\
stages: [build, test, deploy]
variables:
  GREETING: hello
build:
  stage: build
  script:
    - sleep 0.3
    - echo "VERSION=1.2.3" > build.env
    - mkdir -p dist && echo "api sha256:abc" > dist/digests.txt
  artifacts:
    paths: [dist/]
    reports:
      dotenv: build.env
test:
  stage: test
  variables:
    LABEL: "v$VERSION"
  script:
    - echo "$GREETING $VERSION $LABEL"
    - test "$VERSION" = 1.2.3
    - env | sort > env.txt
    - git rev-parse --verify origin/master
  artifacts:
    paths: [env.txt]
deploy:
  stage: deploy
  script: [echo "deploying $VERSION from $CI_COMMIT_SHORT_SHA"]
"""

FAILING_CI = """\
stages: [build, test, deploy]
build:
  stage: build
  script:
    - echo before failure
    - exit 3
    - echo never printed
  after_script:
    - echo cleaning up
lint:
  stage: build
  script: [exit 1]
  allow_failure: true
test:
  stage: test
  script: [echo test]
deploy:
  stage: deploy
  script: [echo deploy]
"""

# GitLab's dotenv format: quotes are kept as written; a comment or a blank line makes GitLab refuse the report,
# and the job fails.
DOTENV_CI = """\
stages: [build, test]
quoted:
  stage: build
  script:
    - |
      printf '%s\\n' 'TAG="v1"' > quoted.env
  artifacts:
    reports:
      dotenv: quoted.env
commented:
  stage: build
  allow_failure: true
  script:
    - |
      printf '%s\\n' '# the digest' 'DIGEST=sha256:1' > commented.env
  artifacts:
    paths: [commented.env]
    reports:
      dotenv: commented.env
use:
  stage: test
  script:
    - echo "TAG is [$TAG], DIGEST is [$DIGEST]"
"""

SLOW_CI = """\
slow:
  stage: build
  timeout: 1 second
  script: [sleep 20]
cancel-me:
  stage: build
  script: [sleep 20]
  rules:
    - if: $CANCEL_TEST == "yes"
"""


@pytest.fixture
def running_server(origin, token: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxGitLab]:
    # The server process normally has its admin token in the environment; jobs must not inherit it.
    monkeypatch.setenv("PC_RELEASE_GITLAB_TOKEN", token)
    with SandboxGitLab(origin.path, token, run_jobs=True) as server:
        yield server


def _finished(project: Any, pipeline_id: int) -> Any:
    pipeline = project.pipelines.get(pipeline_id)
    return pipeline if pipeline.status in ("success", "failed", "canceled", "skipped") else None


def _job(project: Any, pipeline: Any, name: str) -> Any:
    job = next(j for j in pipeline.jobs.list(get_all=True) if j.name == name)
    return project.jobs.get(job.id)


def test_three_stage_pipeline_passes_dotenv_downstream(
    running_server: SandboxGitLab, origin, token: str, wait_for
) -> None:
    sha = origin.commit({".gitlab-ci.yml": PIPELINE_CI}, "three stages")
    project = gitlab.Gitlab(running_server.url, private_token=token).projects.get(1)
    pipeline = project.pipelines.create({"ref": "master", "variables": [{"key": "EXTRA", "value": "x"}]})

    seen: set[tuple[str, str]] = set()

    def done() -> Any:
        seen.update((j.name, j.status) for j in pipeline.jobs.list(get_all=True))
        return _finished(project, pipeline.id)

    finished = wait_for(done, timeout=30, interval=0.05)
    assert finished.status == "success", [(j.name, j.status) for j in finished.jobs.list()]
    assert {("build", "running"), ("test", "created")} <= seen

    test_trace = _job(project, finished, "test").trace().decode()
    assert '$ echo "$GREETING $VERSION $LABEL"' in test_trace
    assert "hello 1.2.3 v1.2.3" in test_trace
    assert test_trace.rstrip().endswith("Job succeeded")
    assert f"from {sha[:8]}" in _job(project, finished, "deploy").trace().decode()

    build = _job(project, finished, "build")
    assert build.artifact("dist/digests.txt") == b"api sha256:abc\n"
    # build.env is a dotenv report only: its variables reach later jobs, but GitLab serves for download only
    # what `artifacts:paths` lists.
    with pytest.raises(gitlab.exceptions.GitlabGetError) as not_served:
        build.artifact("build.env")
    assert not_served.value.response_code == 404
    assert not any(a["filename"] == "build.env" for a in build.attributes["artifacts"])
    assert {a["file_type"] for a in build.attributes["artifacts"]} >= {"archive", "trace", "dotenv"}

    env = dict(
        line.split("=", 1)
        for line in _job(project, finished, "test").artifact("env.txt").decode().splitlines()
        if "=" in line
    )
    assert token not in "\n".join(f"{k}={v}" for k, v in env.items())
    assert env["CI_JOB_TOKEN"] and env["CI_JOB_TOKEN"] != token
    assert env["CI"] == env["GITLAB_CI"] == "true"
    assert env["CI_COMMIT_SHA"] == sha and env["CI_COMMIT_BRANCH"] == env["CI_COMMIT_REF_NAME"] == "master"
    assert env["CI_PIPELINE_ID"] == str(pipeline.id) and env["CI_PIPELINE_SOURCE"] == "api"
    assert env["CI_JOB_NAME"] == "test" and env["CI_JOB_STAGE"] == "test"
    assert env["CI_API_V4_URL"] == f"{running_server.url}/api/v4"
    assert env["CI_PROJECT_PATH"] == "platform/platform-control" and env["CI_DEFAULT_BRANCH"] == "master"
    assert env["CI_PROJECT_DIR"].endswith(f"/builds/{env['CI_JOB_ID']}")
    assert env["EXTRA"] == "x"


def test_dotenv_reports_are_read_as_gitlab_reads_them(
    running_server: SandboxGitLab, origin, token: str, wait_for
) -> None:
    origin.commit({".gitlab-ci.yml": DOTENV_CI}, "dotenv reports")
    project = gitlab.Gitlab(running_server.url, private_token=token).projects.get(1)
    pipeline = project.pipelines.create({"ref": "master"})
    finished = wait_for(lambda: _finished(project, pipeline.id), timeout=30)

    assert {j.name: j.status for j in finished.jobs.list()} == {
        "quoted": "success",
        "commented": "failed",
        "use": "success",
    }
    assert 'TAG is ["v1"], DIGEST is []' in _job(project, finished, "use").trace().decode()
    commented = _job(project, finished, "commented")
    trace = commented.trace().decode()
    assert 'Uploading artifacts as "dotenv"' in trace and "400 Bad Request (line 1: Invalid Format" in trace
    assert not any(a["file_type"] == "dotenv" for a in commented.attributes["artifacts"])


def test_failing_job_fails_pipeline_and_skips_later_stages(
    running_server: SandboxGitLab, origin, token: str, wait_for
) -> None:
    origin.commit({".gitlab-ci.yml": FAILING_CI}, "failing build")
    project = gitlab.Gitlab(running_server.url, private_token=token).projects.get(1)
    pipeline = project.pipelines.create({"ref": "master"})
    finished = wait_for(lambda: _finished(project, pipeline.id), timeout=30)

    assert finished.status == "failed"
    statuses = {j.name: j.status for j in finished.jobs.list()}
    assert statuses == {"build": "failed", "lint": "failed", "test": "skipped", "deploy": "skipped"}
    build = _job(project, finished, "build")
    assert build.failure_reason == "script_failure"
    trace = build.trace().decode()
    assert "before failure" in trace and "never printed" not in trace
    assert "cleaning up" in trace and "exit code 3" in trace
    assert _job(project, finished, "lint").allow_failure is True


def test_retried_job_reruns_and_the_skipped_stages_follow(
    running_server: SandboxGitLab, origin, token: str, tmp_path, wait_for
) -> None:
    marker = tmp_path / "fixed"
    origin.commit({".gitlab-ci.yml": FAILING_CI.replace("    - exit 3\n", '    - test -f "$MARKER" || exit 3\n')})
    project = gitlab.Gitlab(running_server.url, private_token=token).projects.get(1)
    pipeline = project.pipelines.create({"ref": "master", "variables": [{"key": "MARKER", "value": str(marker)}]})
    assert wait_for(lambda: _finished(project, pipeline.id), timeout=30).status == "failed"

    marker.touch()  # the flaky dependency recovers; a retry of the same SHA now passes
    _job(project, pipeline, "build").retry()
    finished = wait_for(lambda: _finished(project, pipeline.id), timeout=30)
    assert finished.status == "success"
    assert {j.name: j.status for j in finished.jobs.list()} == {
        "build": "success",
        "lint": "failed",
        "test": "success",
        "deploy": "success",
    }
    assert [j.status for j in finished.jobs.list(include_retried=True) if j.name == "build"] == ["success", "failed"]


def test_timeout_and_cancel(running_server: SandboxGitLab, origin, token: str, wait_for) -> None:
    origin.commit({".gitlab-ci.yml": SLOW_CI}, "slow jobs")
    project = gitlab.Gitlab(running_server.url, private_token=token).projects.get(1)

    timed_out = project.pipelines.create({"ref": "master"})
    finished = wait_for(lambda: _finished(project, timed_out.id), timeout=15)
    slow = _job(project, finished, "slow")
    assert (slow.status, slow.failure_reason) == ("failed", "job_execution_timeout")

    to_cancel = project.pipelines.create({"ref": "master", "variables": [{"key": "CANCEL_TEST", "value": "yes"}]})
    wait_for(lambda: _job(project, to_cancel, "cancel-me").status == "running", timeout=10)
    started = time.monotonic()
    to_cancel.cancel()
    canceled = wait_for(lambda: _finished(project, to_cancel.id), timeout=10)
    assert canceled.status == "canceled"
    assert time.monotonic() - started < 5
    assert running_server.jobs(to_cancel.id)[-1]["status"] == "canceled"


def test_watched_master_push_runs_its_pipeline(origin, token: str, tmp_path, wait_for) -> None:
    with SandboxGitLab(
        origin.path, token, run_jobs=True, state_dir=tmp_path / "state", watch_branches=("master",)
    ) as server:
        sha = origin.commit({".gitlab-ci.yml": 'check:\n  script: [test "$CI_PIPELINE_SOURCE" = push]\n'})

        def master_pipeline_done() -> Any:
            matching = [p for p in server.pipelines() if p["sha"] == sha]
            return matching and matching[0]["status"] in ("success", "failed") and matching[0]

        assert wait_for(master_pipeline_done, timeout=20)["status"] == "success"
    assert (tmp_path / "state" / "state.json").exists()


# --- pure helpers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "env", "expected"),
    [
        ("v$VERSION", {"VERSION": "1"}, "v1"),
        ("${A}-${B}", {"A": "x", "B": "y"}, "x-y"),
        ("$MISSING/end", {}, "/end"),
        ("plain", {}, "plain"),
    ],
)
def test_expand_variables(value: str, env: dict[str, str], expected: str) -> None:
    assert expand_variables(value, env) == expected


def test_shell_script_echoes_commands_and_stops_at_first_failure() -> None:
    script = shell_script(["echo one", "false | cat", "echo never"])
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stdout == "$ echo one\none\n$ false | cat\n"
