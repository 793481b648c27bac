"""The sandbox GitLab over real HTTP: python-gitlab reads, pipeline lifecycle, pagination, faults, control API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import gitlab
import pytest
import requests
from gitlab.v4.objects import Project as ProjectProxy

from pc_release.sandbox.gitlab_server import STATUSES, PipelineCreationError, SandboxGitLab, composite_status

PROJECT = "platform/platform-control"


def _jobs_by_name(server: SandboxGitLab, pipeline_id: int) -> dict[str, dict]:
    return {job["name"]: job for job in server.jobs(pipeline_id)}


# --- project, branch, commit -----------------------------------------------------------------------------


def test_project_readable_by_id_and_by_url_encoded_path(gl: gitlab.Gitlab, server: SandboxGitLab) -> None:
    by_path = gl.projects.get(PROJECT)
    by_id = gl.projects.get(1)
    assert by_path.id == by_id.id == 1
    assert by_path.path_with_namespace == PROJECT
    assert by_path.default_branch == "master"
    assert by_path.web_url == f"{server.url}/{PROJECT}"
    assert ("GET", "/api/v4/projects/platform%2Fplatform-control") in server.request_log


def test_unknown_project_is_404(gl: gitlab.Gitlab) -> None:
    with pytest.raises(gitlab.exceptions.GitlabGetError) as caught:
        gl.projects.get("platform/nope")
    assert caught.value.response_code == 404
    assert caught.value.error_message == "404 Project Not Found"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"PRIVATE-TOKEN": "wrong"}, 401),
        ({"PRIVATE-TOKEN": "{token}"}, 200),
        ({"Authorization": "Bearer {token}"}, 200),
    ],
)
def test_token_is_required(server: SandboxGitLab, token: str, headers: dict[str, str], status: int) -> None:
    headers = {key: value.format(token=token) for key, value in headers.items()}
    response = requests.get(f"{server.url}/api/v4/projects/1", headers=headers, timeout=5)
    assert response.status_code == status
    if status == 401:
        assert response.json() == {"message": "401 Unauthorized"}


def test_python_gitlab_without_token_gets_authentication_error(server: SandboxGitLab) -> None:
    with pytest.raises(gitlab.exceptions.GitlabAuthenticationError):
        gitlab.Gitlab(server.url).projects.get(PROJECT)


def test_branch_with_slash_and_commit_reads(project: ProjectProxy, origin) -> None:
    sha = origin.commit({"web/app.txt": "x"}, "Release candidate\n\nBody text.", branch="release/platform-control")
    branch = project.branches.get("release/platform-control")
    assert branch.name == "release/platform-control"
    assert branch.commit["id"] == sha
    assert branch.commit["short_id"] == sha[:8]
    assert branch.commit["title"] == "Release candidate"
    assert branch.commit["author_name"] == "Dev"
    assert len(branch.commit["parent_ids"]) == 1
    assert branch.default is False and branch.protected is False
    master = project.branches.get("master")
    assert master.default is True and master.merged is False

    commit = project.commits.get(sha)
    assert commit.message.startswith("Release candidate\n\nBody text.")
    assert commit.last_pipeline is None
    with pytest.raises(gitlab.exceptions.GitlabGetError):
        project.branches.get("no-such-branch")
    with pytest.raises(gitlab.exceptions.GitlabGetError):
        project.commits.get("0" * 40)


def test_commit_shows_its_last_pipeline(project: ProjectProxy, server: SandboxGitLab, origin) -> None:
    created = server.create_pipeline("master")
    commit = project.commits.get(created["sha"])
    assert commit.last_pipeline["id"] == created["id"]
    assert commit.last_pipeline["status"] == "pending"


# --- pipeline creation -----------------------------------------------------------------------------------


def test_create_pipeline_with_variables_evaluates_rules(project: ProjectProxy, server: SandboxGitLab) -> None:
    plain = project.pipelines.create({"ref": "master"})
    full = project.pipelines.create(
        {"ref": "master", "variables": [{"key": "PLATFORM_CONTROL_RELEASE_MODE", "value": "full"}]}
    )
    assert plain.source == full.source == "api"
    assert plain.status == "pending"
    assert full.id == plain.id + 1 and full.iid == plain.iid + 1
    assert full.web_url == f"{server.url}/{PROJECT}/-/pipelines/{full.id}"
    assert full.before_sha == "0" * 40 and full.tag is False
    assert full.detailed_status["group"] == "pending"
    assert {j.name for j in plain.jobs.list()} == {"build", "test", "deploy"}
    jobs = {j.name: j for j in full.jobs.list()}
    assert set(jobs) == {"build", "test", "full-only", "deploy"}
    assert jobs["build"].status == "pending"
    assert jobs["full-only"].status == "created"
    assert jobs["build"].pipeline["sha"] == full.sha
    assert jobs["build"].web_url == f"{server.url}/{PROJECT}/-/jobs/{jobs['build'].id}"
    variables = [(v.key, v.value, v.variable_type) for v in full.variables.list()]
    assert variables == [("PLATFORM_CONTROL_RELEASE_MODE", "full", "env_var")]


def test_create_pipeline_refusals(project: ProjectProxy, server: SandboxGitLab, origin) -> None:
    with pytest.raises(gitlab.exceptions.GitlabCreateError) as unknown_ref:
        project.pipelines.create({"ref": "does-not-exist"})
    assert unknown_ref.value.response_code == 400
    assert unknown_ref.value.error_message == {"base": ["Reference not found"]}

    origin.commit({".gitlab-ci.yml": "only-manual:\n  script: [x]\n  rules:\n    - when: never\n"}, branch="empty")
    with pytest.raises(gitlab.exceptions.GitlabCreateError) as no_jobs:
        project.pipelines.create({"ref": "empty"})
    assert no_jobs.value.error_message == {"base": ["No stages / jobs for this pipeline."]}

    with pytest.raises(PipelineCreationError, match="Reference not found"):
        server.create_pipeline("nope")


def test_create_pipeline_reads_local_includes_at_the_pipeline_sha(project: ProjectProxy, origin) -> None:
    origin.commit(
        {
            ".gitlab-ci.yml": "include:\n  - local: /ci/jobs.yml\nstages: [check]\n",
            "ci/jobs.yml": "guard:\n  stage: check\n  script: [pc-release guard]\n",
        },
        branch="included",
    )
    pipeline = project.pipelines.create({"ref": "included"})
    assert [j.name for j in pipeline.jobs.list()] == ["guard"]


def test_form_encoded_create_is_accepted(token: str, server: SandboxGitLab) -> None:
    response = requests.post(
        f"{server.url}/api/v4/projects/platform%2Fplatform-control/pipeline",
        headers={"PRIVATE-TOKEN": token},
        data={"ref": "master", "variables[][key]": "PLATFORM_CONTROL_RELEASE_MODE", "variables[][value]": "full"},
        timeout=5,
    )
    assert response.status_code == 201
    assert "full-only" in _jobs_by_name(server, response.json()["id"])


# --- listing, filters, pagination ------------------------------------------------------------------------


def test_pipeline_list_filters_and_ordering(project: ProjectProxy, server: SandboxGitLab, origin) -> None:
    first = server.create_pipeline("master")
    release_sha = origin.commit({"x.txt": "1"}, branch="release/platform-control")
    release = server.create_pipeline("release/platform-control", source="api")
    third = server.create_pipeline("master")
    server.set_all_jobs_status(third["id"], "success")

    assert [p.id for p in project.pipelines.list(get_all=True)] == [third["id"], release["id"], first["id"]]
    assert [p.id for p in project.pipelines.list(ref="release/platform-control", get_all=True)] == [release["id"]]
    assert [p.id for p in project.pipelines.list(sha=release_sha, get_all=True)] == [release["id"]]
    assert [p.id for p in project.pipelines.list(status="success", get_all=True)] == [third["id"]]
    assert [p.id for p in project.pipelines.list(source="api", get_all=True)] == [release["id"]]
    ascending = project.pipelines.list(order_by="id", sort="asc", get_all=True)
    assert [p.id for p in ascending] == [first["id"], release["id"], third["id"]]
    by_update = project.pipelines.list(order_by="updated_at", sort="desc", get_all=True)
    assert by_update[0].id == third["id"]
    updated_after = server.pipelines()[-1]["updated_at"]
    assert project.pipelines.list(updated_after=updated_after, get_all=True) == []
    assert len(project.pipelines.list(updated_before="2999-01-01T00:00:00Z", get_all=True)) == 3
    item = project.pipelines.list(get_all=True)[0].attributes
    assert set(item) >= {
        "id",
        "iid",
        "project_id",
        "sha",
        "ref",
        "status",
        "source",
        "created_at",
        "updated_at",
        "web_url",
    }
    latest = project.pipelines.latest(ref="master")
    assert latest.id == third["id"]


def test_pagination_headers_and_get_all(token: str, project: ProjectProxy, server: SandboxGitLab) -> None:
    created = [server.create_pipeline("master")["id"] for _ in range(7)]
    response = requests.get(
        f"{server.url}/api/v4/projects/1/pipelines",
        params={"per_page": 3, "page": 2, "ref": "master"},
        headers={"PRIVATE-TOKEN": token},
        timeout=5,
    )
    headers = response.headers
    assert [p["id"] for p in response.json()] == sorted(created, reverse=True)[3:6]
    assert (headers["X-Page"], headers["X-Per-Page"], headers["X-Total"], headers["X-Total-Pages"]) == (
        "2",
        "3",
        "7",
        "3",
    )
    assert (headers["X-Next-Page"], headers["X-Prev-Page"]) == ("3", "1")
    assert "page=3" in response.links["next"]["url"] and "ref=master" in response.links["next"]["url"]
    assert "page=1" in response.links["prev"]["url"]
    assert "page=3" in response.links["last"]["url"]

    server.reset_request_log()
    everything = project.pipelines.list(per_page=3, get_all=True)
    assert sorted(p.id for p in everything) == sorted(created)
    assert len([r for r in server.request_log if "/pipelines" in r[1]]) == 3


def test_job_list_scopes_and_retried(project: ProjectProxy, server: SandboxGitLab) -> None:
    created = server.create_pipeline("master")
    server.set_job_status(created["id"], "build", "failed")
    pipeline = project.pipelines.get(created["id"])
    assert [j.name for j in pipeline.jobs.list(scope="failed")] == ["build"]
    assert sorted(j.name for j in pipeline.jobs.list(scope=["skipped", "failed"])) == ["build", "deploy", "test"]
    first = _jobs_by_name(server, created["id"])["build"]["id"]
    second = project.jobs.get(first).retry()["id"]

    # GitLab's REST jobs have no `retried` field: attempts share a name, the newest has the highest id. The
    # pipeline's list holds only the latest attempts unless include_retried=true; the project's list has them all.
    latest = pipeline.jobs.list()
    assert [(j.name, j.id) for j in latest if j.name == "build"] == [("build", second)]
    assert len(latest) == 3
    every = pipeline.jobs.list(include_retried=True)
    assert [j.id for j in every if j.name == "build"] == [second, first]  # newest first
    assert len(every) == 4
    assert len(pipeline.jobs.list(include_retried=False)) == 3
    assert {first, second} <= {j.id for j in project.jobs.list(get_all=True)}
    assert not any("retried" in j.attributes for j in [*every, project.jobs.get(first)])
    attempts = [j["id"] for j in server.jobs(created["id"], include_retried=True) if j["name"] == "build"]
    assert attempts == [first, second]


# --- statuses --------------------------------------------------------------------------------------------


def test_job_statuses_drive_pipeline_like_gitlab(project: ProjectProxy, server: SandboxGitLab) -> None:
    pid = server.create_pipeline("master")["id"]
    assert project.pipelines.get(pid).status == "pending"
    server.set_job_status(pid, "build", "running")
    pipeline = project.pipelines.get(pid)
    assert pipeline.status == "running" and pipeline.started_at is not None
    server.set_job_status(pid, "build", "success")
    jobs = _jobs_by_name(server, pid)
    assert (jobs["test"]["status"], jobs["deploy"]["status"]) == ("pending", "created")
    server.set_job_status(pid, "test", "success")
    assert _jobs_by_name(server, pid)["deploy"]["status"] == "pending"
    server.set_job_status(pid, "deploy", "success")
    pipeline = project.pipelines.get(pid)
    assert pipeline.status == "success"
    assert pipeline.finished_at is not None and pipeline.duration is not None
    assert pipeline.detailed_status["text"] == "passed"


def test_failure_skips_later_stages(project: ProjectProxy, server: SandboxGitLab) -> None:
    pid = server.create_pipeline("master")["id"]
    server.set_job_status(pid, "build", "failed")
    jobs = _jobs_by_name(server, pid)
    assert (jobs["test"]["status"], jobs["deploy"]["status"]) == ("skipped", "skipped")
    assert jobs["build"]["failure_reason"] == "script_failure"
    assert project.pipelines.get(pid).status == "failed"


def test_allowed_failure_and_manual_jobs(project: ProjectProxy, server: SandboxGitLab, origin) -> None:
    origin.commit(
        {
            ".gitlab-ci.yml": """\
lint:
  stage: build
  script: [x]
  allow_failure: true
approve:
  stage: test
  script: [x]
  rules:
    - when: manual
optional:
  stage: test
  script: [x]
  when: manual
deploy:
  stage: deploy
  script: [x]
"""
        },
        branch="gated",
    )
    pid = server.create_pipeline("gated")["id"]
    server.set_job_status(pid, "lint", "failed")
    jobs = _jobs_by_name(server, pid)
    assert (jobs["approve"]["status"], jobs["optional"]["status"]) == ("manual", "manual")
    assert jobs["approve"]["allow_failure"] is False and jobs["optional"]["allow_failure"] is True
    assert project.pipelines.get(pid).status == "manual"
    server.set_job_status(pid, "approve", "success")
    assert _jobs_by_name(server, pid)["deploy"]["status"] == "pending"
    server.set_job_status(pid, "deploy", "success")
    pipeline = project.pipelines.get(pid)
    assert pipeline.status == "success"
    assert pipeline.detailed_status["group"] == "success-with-warnings"


@pytest.mark.parametrize("forced", ["canceling", "waiting_for_callback", "waiting_for_resource", "scheduled"])
def test_forced_pipeline_status_is_readable(project: ProjectProxy, server: SandboxGitLab, forced: str) -> None:
    pid = server.create_pipeline("master")["id"]
    server.set_pipeline_status(pid, forced)
    pipeline = project.pipelines.get(pid)
    assert pipeline.status == forced
    assert pipeline.detailed_status["group"] == forced
    assert [p.id for p in project.pipelines.list(status=forced, get_all=True)] == [pid]


def test_every_gitlab_status_is_accepted_for_jobs(server: SandboxGitLab) -> None:
    pid = server.create_pipeline("master")["id"]
    for status in STATUSES:
        server.set_job_status(pid, "deploy", status)
        assert _jobs_by_name(server, pid)["deploy"]["status"] == status
    with pytest.raises(ValueError, match="unknown status"):
        server.set_job_status(pid, "deploy", "passed")


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([("success", False), ("skipped", False)], "success"),
        ([("success", False), ("failed", True)], "success"),
        ([("success", False), ("failed", False)], "failed"),
        ([("running", False), ("failed", False)], "running"),
        ([("success", False), ("created", False)], "running"),
        ([("pending", False), ("created", False)], "pending"),
        ([("created", False)], "created"),
        ([("success", False), ("manual", False)], "manual"),
        ([("success", False), ("manual", True)], "success"),
        ([("canceled", False), ("success", False)], "canceled"),
        ([("canceling", False), ("success", False)], "canceling"),
        ([("waiting_for_callback", False), ("success", False)], "waiting_for_callback"),
        ([("skipped", False)], "skipped"),
        ([], None),
    ],
)
def test_composite_status(statuses: list[tuple[str, bool]], expected: str | None) -> None:
    jobs = [{"status": status, "allow_failure": allowed} for status, allowed in statuses]
    assert composite_status(jobs) == expected


def test_retry_resets_skipped_jobs(project: ProjectProxy, server: SandboxGitLab) -> None:
    pid = server.create_pipeline("master")["id"]
    server.set_job_status(pid, "build", "failed")
    old_id = _jobs_by_name(server, pid)["build"]["id"]
    retried = project.jobs.get(old_id).retry()
    assert retried["id"] != old_id and retried["status"] == "pending"
    with pytest.raises(gitlab.exceptions.GitlabJobRetryError):
        project.jobs.get(old_id).retry()  # an attempt already retried is not retryable again
    jobs = _jobs_by_name(server, pid)
    assert (jobs["test"]["status"], jobs["deploy"]["status"]) == ("created", "created")
    assert project.pipelines.get(pid).status == "pending"
    server.set_all_jobs_status(pid, "success")
    again = server.retry_job(pid, "deploy")
    assert again["status"] == "pending"
    with pytest.raises(gitlab.exceptions.GitlabJobRetryError):
        project.jobs.get(again["id"]).retry()


def test_cancel_pipeline(project: ProjectProxy, server: SandboxGitLab) -> None:
    pid = server.create_pipeline("master")["id"]
    server.set_job_status(pid, "build", "success")
    project.pipelines.get(pid).cancel()
    jobs = _jobs_by_name(server, pid)
    assert {name: job["status"] for name, job in jobs.items()} == {
        "build": "success",
        "test": "canceled",
        "deploy": "canceled",
    }
    assert project.pipelines.get(pid).status == "canceled"


# --- traces and artifacts --------------------------------------------------------------------------------


def test_artifacts_served_per_file_as_archive_and_by_ref(project: ProjectProxy, server: SandboxGitLab) -> None:
    pid = server.create_pipeline("master")["id"]
    server.set_job_artifact(pid, "build", "dist/runtime-digests.json", b'{"api": "sha256:abc"}')
    server.set_all_jobs_status(pid, "success")
    job = project.jobs.get(_jobs_by_name(server, pid)["build"]["id"])
    assert job.artifact("dist/runtime-digests.json") == b'{"api": "sha256:abc"}'
    assert [a["file_type"] for a in job.attributes["artifacts"]][:1] == ["archive"]
    assert job.trace() == b""
    with pytest.raises(gitlab.exceptions.GitlabGetError) as missing:
        job.artifact("dist/missing.json")
    assert missing.value.response_code == 404
    assert job.artifacts()[:2] == b"PK"
    by_ref = project.artifacts.raw("master", "dist/runtime-digests.json", "build")
    assert by_ref == b'{"api": "sha256:abc"}'
    with pytest.raises(ValueError, match="escapes"):
        server.set_job_artifact(pid, "build", "../outside", b"x")


# --- faults and the request log --------------------------------------------------------------------------


def test_injected_502s_are_retried_to_success(gl: gitlab.Gitlab, server: SandboxGitLab) -> None:
    server.fail_next(2, 502)
    server.reset_request_log()
    assert gl.projects.get(PROJECT).id == 1
    assert server.request_log == [("GET", "/api/v4/projects/platform%2Fplatform-control")] * 3


def test_injected_429_honours_retry_after(token: str, gl: gitlab.Gitlab, server: SandboxGitLab) -> None:
    server.fail_next(1, 429, retry_after=1)
    server.reset_request_log()
    started = time.monotonic()
    assert gl.projects.get(1).name == "platform-control"
    assert time.monotonic() - started >= 1.0
    assert len(server.request_log) == 2
    server.fail_next(1, 429, retry_after=7)
    response = requests.get(f"{server.url}/api/v4/projects/1", headers={"PRIVATE-TOKEN": token}, timeout=5)
    assert (response.status_code, response.headers["Retry-After"]) == (429, "7")
    assert response.text == "Retry later\n"  # GitLab's Rack::Attack throttle answers in plain text


def test_random_faults_are_survived_by_retrying_clients(gl: gitlab.Gitlab, server: SandboxGitLab) -> None:
    server.create_pipeline("master")
    server.set_faults(rate=0.3, kinds=("502", "503", "429", "slow"), seed=11, slow_seconds=0.02, retry_after=0)
    server.reset_request_log()
    project = gl.projects.get(PROJECT)
    for _ in range(15):
        assert len(project.pipelines.list(get_all=True)) == 1
    assert len(server.request_log) > 16
    server.set_faults()
    with pytest.raises(ValueError):
        server.set_faults(rate=2.0)


def test_concurrent_clients(token: str, server: SandboxGitLab) -> None:
    pid = server.create_pipeline("master")["id"]
    errors: list[BaseException] = []

    def client() -> None:
        try:
            session = requests.Session()
            for _ in range(10):
                response = session.get(
                    f"{server.url}/api/v4/projects/1/pipelines/{pid}/jobs", headers={"PRIVATE-TOKEN": token}, timeout=5
                )
                assert response.status_code == 200 and len(response.json()) == 3
        except BaseException as err:  # collected and re-raised on the test thread
            errors.append(err)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for status in ("running", "success"):
        server.set_job_status(pid, "build", status)
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(server.request_log) == 80


# --- control API, persistence, branch watching -----------------------------------------------------------


def test_control_api_over_http(token: str, server: SandboxGitLab) -> None:
    def control(method: str, route: str, body: dict | None = None) -> requests.Response:
        return requests.request(
            method, f"{server.url}/-/sandbox/{route}", json=body, headers={"PRIVATE-TOKEN": token}, timeout=5
        )

    assert requests.post(f"{server.url}/-/sandbox/pipelines", json={"ref": "master"}, timeout=5).status_code == 401
    created = control("POST", "pipelines", {"ref": "master", "variables": {"PLATFORM_CONTROL_RELEASE_MODE": "full"}})
    assert created.status_code == 201
    pid = created.json()["id"]
    assert "full-only" in _jobs_by_name(server, pid)
    assert control("POST", "jobs/status", {"pipeline_id": pid, "job_name": "build", "status": "failed"}).ok
    assert server.pipelines()[0]["status"] == "failed"
    assert (
        control("POST", "jobs/status", {"pipeline_id": pid, "job_name": "nope", "status": "failed"}).status_code == 404
    )
    assert control("POST", "pipelines", {"ref": "nope"}).json() == {"message": {"base": ["Reference not found"]}}
    assert control("POST", "pipelines/status", {"pipeline_id": pid, "status": "canceling"}).ok
    assert control("POST", "faults/next", {"n": 1, "status": 503}).ok
    assert requests.get(f"{server.url}/api/v4/version", headers={"PRIVATE-TOKEN": token}, timeout=5).status_code == 503
    assert control("POST", "faults", {"rate": 0.0}).ok
    assert control("GET", "requests").json() == [["GET", "/api/v4/version"]]
    assert control("POST", "requests/reset").ok
    assert control("GET", "requests").json() == []


def test_state_survives_restart(origin, tmp_path, token: str) -> None:
    state = tmp_path / "state"
    with SandboxGitLab(origin.path, token, state_dir=state) as first:
        pid = first.create_pipeline("master")["id"]
        first.set_job_status(pid, "build", "success")
        first.set_job_artifact(pid, "build", "out.txt", b"kept")
    with SandboxGitLab(origin.path, token, state_dir=state) as second:
        assert [p["id"] for p in second.pipelines()] == [pid]
        assert _jobs_by_name(second, pid)["test"]["status"] == "pending"
        assert second.create_pipeline("master")["id"] == pid + 1
        project = gitlab.Gitlab(second.url, private_token=token).projects.get(1)
        build_id = _jobs_by_name(second, pid)["build"]["id"]
        assert project.jobs.get(build_id).artifact("out.txt") == b"kept"


def test_watched_branch_push_starts_pipeline(origin, token: str, wait_for) -> None:
    with SandboxGitLab(origin.path, token, watch_branches=("master",)) as server:
        first = wait_for(lambda: server.pipelines())[0]  # type: ignore[index]
        assert first["source"] == "push" and first["ref"] == "master"
        new_sha = origin.commit({"feature.txt": "1"}, "feature")
        origin.commit({"other.txt": "1"}, "unwatched", branch="topic")
        pushed = wait_for(lambda: [p for p in server.pipelines() if p["sha"] == new_sha])[0]  # type: ignore[index]
        assert pushed["before_sha"] == first["sha"]
        time.sleep(0.4)
        assert [p["ref"] for p in server.pipelines()] == ["master", "master"]


def test_serve_command_prints_url_and_stops_on_sigterm(origin, token: str, tmp_path) -> None:
    command = [
        sys.executable,
        "-m",
        "pc_release.sandbox",
        "serve",
        "--origin",
        str(origin.path),
        "--port",
        "0",
        "--state-dir",
        str(tmp_path / "state"),
        "--watch-branch",
        "master",
    ]
    env = {**os.environ, "PC_RELEASE_GITLAB_TOKEN": token}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        project = gitlab.Gitlab(url, private_token=token, retry_transient_errors=True).projects.get(PROJECT)
        assert project.default_branch == "master"
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert token not in stdout + stderr
    assert (tmp_path / "state" / "state.json").exists()

    without_token = {k: v for k, v in os.environ.items() if k != "PC_RELEASE_GITLAB_TOKEN"}
    refused = subprocess.run(command, env=without_token, capture_output=True, text=True, timeout=30, check=False)
    assert refused.returncode == 2 and "PC_RELEASE_GITLAB_TOKEN" in refused.stderr


def test_reporter_token_reads_but_may_not_run_pipelines(origin, token: str) -> None:
    with SandboxGitLab(origin.path, token, reporter_tokens=("reporter-token",)) as srv:
        admin = gitlab.Gitlab(srv.url, private_token=token).projects.get(PROJECT)
        reporter = gitlab.Gitlab(srv.url, private_token="reporter-token").projects.get(PROJECT)
        assert admin.permissions["project_access"]["access_level"] == 40
        assert reporter.permissions["project_access"]["access_level"] == 20
        assert reporter.pipelines.list(get_all=True) == []
        with pytest.raises(gitlab.exceptions.GitlabCreateError) as err:
            reporter.pipelines.create({"ref": "master"})
        assert err.value.response_code == 403
        assert srv.pipelines() == []
        control = requests.get(f"{srv.url}/-/sandbox/requests", headers={"PRIVATE-TOKEN": "reporter-token"}, timeout=10)
        assert control.status_code == 401


def test_protected_branch_refuses_pipelines_to_users_who_may_neither_push_nor_merge(origin, token: str) -> None:
    origin.commit({"web/app.txt": "x"}, "release", branch="release/platform-control")
    origin.commit({"web/app.txt": "y"}, "feature", branch="feature/x")
    protection = {"master": (40, 40), "release/platform-control": (40, 40)}
    with SandboxGitLab(origin.path, token, developer_tokens=("dev-token",), protected_branches=protection) as srv:
        developer = gitlab.Gitlab(srv.url, private_token="dev-token").projects.get(PROJECT)
        maintainer = gitlab.Gitlab(srv.url, private_token=token).projects.get(PROJECT)
        assert developer.permissions["project_access"]["access_level"] == 30
        release = developer.branches.get("release/platform-control")
        assert (release.protected, release.can_push, release.developers_can_merge) == (True, False, False)
        assert maintainer.branches.get("release/platform-control").can_push is True
        assert developer.branches.get("feature/x").can_push is True

        with pytest.raises(gitlab.exceptions.GitlabCreateError) as err:
            developer.pipelines.create({"ref": "release/platform-control"})
        assert err.value.response_code == 400
        assert "Insufficient permissions to create a new pipeline" in str(err.value.error_message)
        assert srv.pipelines() == []

        assert developer.pipelines.create({"ref": "feature/x"}).ref == "feature/x"
        assert maintainer.pipelines.create({"ref": "release/platform-control"}).ref == "release/platform-control"


# --- a clone connected to the repository URL ------------------------------------------------------------------


def test_connect_clone_pushes_with_the_token_from_the_environment_never_stored(origin, token: str, tmp_path) -> None:
    from pc_release.sandbox.gitlab_server import connect_clone

    def git_with(token_value: str, cwd, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "SANDBOX_TEST_GIT_TOKEN": token_value}
        return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)

    with SandboxGitLab(origin.path, token) as srv:
        assert gitlab.Gitlab(srv.url, private_token=token).projects.get(PROJECT).http_url_to_repo == srv.repository_url
        clone = tmp_path / "clone"
        git_with(token, tmp_path, "init", "-q", "-b", "master", str(clone))
        connect_clone(clone, "origin", srv.repository_url, "SANDBOX_TEST_GIT_TOKEN")
        assert token not in (clone / ".git" / "config").read_text()
        assert git_with("wrong", clone, "fetch", "-q", "origin").returncode != 0
        assert git_with(token, clone, "fetch", "-q", "origin").returncode == 0
        git_with(token, clone, "checkout", "-q", "-b", "feature", "origin/master")
        git_with(
            token, clone, "-c", "user.name=Dev", "-c", "user.email=d@x", "commit", "-q", "--allow-empty", "-m", "x"
        )
        pushed = git_with(token, clone, "push", "-q", "origin", "HEAD:refs/heads/feature")
        assert pushed.returncode == 0, pushed.stderr
        branch = gitlab.Gitlab(srv.url, private_token=token).projects.get(PROJECT).branches.get("feature")
        assert branch.commit["id"] == git_with(token, clone, "rev-parse", "HEAD").stdout.strip()


# --- web pages: the web_urls the API hands out -----------------------------------------------------------


def _signed_in(server: SandboxGitLab, token: str) -> requests.Session:
    session = requests.Session()
    answer = session.post(
        f"{server.url}/users/sign_in",
        data={"token": token, "redirect_to": "/platform/platform-control/-/pipelines/1"},
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/platform/platform-control/-/pipelines/1"
    return session


def test_pipeline_and_job_web_urls_need_a_session_and_never_show_the_token(
    project: ProjectProxy, server: SandboxGitLab, token: str
) -> None:
    pid = server.create_pipeline("master")["id"]
    server.append_job_trace(pid, "build", f"\x1b[32mcompiling\x1b[0m <script>alert(1)</script>\nusing {token}\n")
    server.set_job_status(pid, "build", "failed")
    pipeline = project.pipelines.get(pid)
    build = next(job for job in pipeline.jobs.list(get_all=True) if job.name == "build")
    job_url = project.jobs.get(build.id).web_url

    # A private project: no session, no page, as on GitLab.
    anonymous = requests.get(pipeline.web_url, allow_redirects=False, timeout=5)
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/users/sign_in?redirect_to=")
    assert requests.get(job_url, headers={"Cookie": "_gitlab_session=guess"}, allow_redirects=False).status_code == 302
    refused = requests.post(f"{server.url}/users/sign_in", data={"token": "wrong"}, allow_redirects=False, timeout=5)
    assert refused.status_code == 401 and "Invalid access token" in refused.text

    browser = _signed_in(server, token)
    assert token not in str(browser.cookies.get_dict())
    page = browser.get(pipeline.web_url, timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert f"Pipeline #{pid}" in page.text and "failed" in page.text
    assert f'href="{job_url}"' in page.text  # every job links to its page
    assert all(name in page.text for name in ("build", "test", "deploy", "skipped"))

    log = browser.get(job_url, timeout=5)
    assert log.status_code == 200
    assert "compiling &lt;script&gt;alert(1)&lt;/script&gt;" in log.text and "<script>" not in log.text
    assert "script_failure" in log.text and f'href="{pipeline.web_url}"' in log.text
    raw = browser.get(f"{job_url}/raw", timeout=5)
    assert raw.headers["Content-Type"].startswith("text/plain") and "using [MASKED]" in raw.text
    for answer in (page, log, raw, refused):
        assert token not in answer.text
    assert browser.get(f"{server.url}/platform/platform-control/-/pipelines/999", timeout=5).status_code == 404
    assert browser.get(f"{server.url}/platform/platform-control/-/jobs/999", timeout=5).status_code == 404


def test_sign_in_only_redirects_to_this_server(server: SandboxGitLab, token: str) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        answer = requests.post(
            f"{server.url}/users/sign_in", data={"token": token, "redirect_to": target}, allow_redirects=False
        )
        assert answer.status_code == 302 and answer.headers["Location"] == "/"


# --- master CI held or failed, for the "launch before CI is green" demo -------------------------------------


def test_slowed_master_pipeline_stays_running_until_canceled(origin, token: str, wait_for) -> None:
    with SandboxGitLab(origin.path, token, run_jobs=True, slow_master_ci_seconds=600) as server:
        topic_sha = origin.commit({"topic.txt": "1"}, "topic", branch="topic")
        topic = server.create_pipeline("topic", sha=topic_sha)["id"]
        pid = server.create_pipeline("master")["id"]
        build = (
            gitlab.Gitlab(server.url, private_token=token)
            .projects.get(1)
            .jobs.get(_jobs_by_name(server, pid)["build"]["id"], lazy=True)
        )
        wait_for(lambda: b"holding this job" in build.trace())
        # Other refs are not held: the topic pipeline runs to green while master's first job is still held.
        wait_for(lambda: _jobs_by_name(server, topic)["deploy"]["status"] == "success", timeout=60)
        assert _jobs_by_name(server, pid)["build"]["status"] == "running"
        assert [p["status"] for p in server.pipelines() if p["id"] == pid] == ["running"]
        gitlab.Gitlab(server.url, private_token=token).projects.get(1).pipelines.get(pid).cancel()
        wait_for(lambda: _jobs_by_name(server, pid)["build"]["status"] == "canceled")


def test_failed_master_ci_fails_the_first_stage_and_skips_the_rest(origin, token: str, wait_for) -> None:
    with SandboxGitLab(origin.path, token, run_jobs=True) as server:
        answer = requests.post(
            f"{server.url}/-/sandbox/master-ci", json={"fail": True}, headers={"PRIVATE-TOKEN": token}, timeout=5
        )
        assert answer.ok
        pid = server.create_pipeline("master")["id"]
        wait_for(lambda: server.pipelines()[-1]["status"] == "failed", timeout=60)
        jobs = _jobs_by_name(server, pid)
        assert jobs["build"]["status"] == "failed" and jobs["build"]["failure_reason"] == "script_failure"
        assert jobs["test"]["status"] == jobs["deploy"]["status"] == "skipped"
        trace = gitlab.Gitlab(server.url, private_token=token).projects.get(1).jobs.get(jobs["build"]["id"]).trace()
        assert b"failing this job" in trace and b"ERROR: Job failed: exit code 1" in trace
