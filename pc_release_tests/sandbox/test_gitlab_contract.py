"""The sandbox GitLab answers every endpoint pc-release calls in GitLab's documented shape: each key of GitLab's
own JSON example (copies of shared/reference_data/gitlab/ in pipeline/gitlab_reference/) with a compatible type,
and no key GitLab's Grape entity (lib/api/entities/) does not send. Also the behaviours around them that clients
notice: throttling, `pipelines/latest`, file variables, job users and commit stats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gitlab
import pytest
import requests
from gitlab.v4.objects import Project as ProjectProxy

from pc_release.sandbox.gitlab_server import SandboxGitLab
from pc_release_tests.sandbox.conftest import Origin

REFERENCE = Path(__file__).resolve().parents[1] / "pipeline" / "gitlab_reference"

# Keys GitLab's entities send beyond the (older) documented examples, by JSON path ("" is the top level, "[]"
# a list's items). The source of each set is named; a key outside example and entity is a contract break.
PIPELINE_BASIC = {"id", "iid", "project_id", "sha", "ref", "status", "source", "created_at", "updated_at", "web_url"}
# Entities::Commit (commit.rb, and trailers, extended_trailers, web_url as branch_single.json shows them)
COMMIT = {"id", "short_id", "created_at", "parent_ids", "title", "message", "author_name", "author_email"}
COMMIT |= {"authored_date", "committer_name", "committer_email", "committed_date"}
COMMIT |= {"trailers", "extended_trailers", "web_url"}
ENTITY_EXTRAS: dict[str, dict[str, set[str]]] = {
    # Entities::Ci::PipelineWithMetadata < Pipeline: `archived` (pipeline.rb)
    "pipeline": {"": {"archived"}},
    # Entities::Ci::Pipeline (create, cancel): PipelineBasic's source, detailed_status, archived; no name
    "pipeline_action": {"": {"source", "detailed_status", "archived"}},
    # Entities::Ci::Job < JobBasic: erased_at, archived; commit is Entities::Commit, pipeline PipelineBasic;
    # and artifacts_file, failure_reason when the job has artifacts, has failed (job.rb, job_basic.rb)
    "job": {
        "": {"erased_at", "archived", "artifacts_file", "failure_reason"},
        "commit": COMMIT,
        "pipeline": PIPELINE_BASIC,
    },
    # Entities::CommitDetail: project_id; last_pipeline is Entities::Ci::PipelineBasic
    "commit": {"": {"project_id"} | COMMIT, "last_pipeline": PIPELINE_BASIC},
    # Entities::Ci::Bridge < JobBasic: erased_at, failure_reason (if failed); downstream_pipeline is PipelineBasic
    "bridge": {
        "": {"erased_at", "failure_reason"},
        "commit": COMMIT,
        "pipeline": PIPELINE_BASIC,
        "downstream_pipeline": PIPELINE_BASIC,
    },
    "none": {},
}


def reference(name: str) -> Any:
    return json.loads((REFERENCE / name).read_text())


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"  # JSON has one number type; GitLab's examples give durations both ways
    return {str: "string", list: "array", dict: "object"}[type(value)]


def contract_breaks(actual: Any, example: Any, extras: dict[str, set[str]], path: str = "") -> list[str]:
    """Where `actual` breaks the documented `example`: missing keys, other types, keys GitLab does not send.

    null in the example is any type; null in the answer is a field GitLab also leaves empty (a job not yet
    started, no expiry); lists are compared by their first element."""
    if example is None or actual is None:
        return []
    where = path or "top level"
    if json_type(actual) != json_type(example):
        return [f"{where}: {json_type(actual)} where GitLab sends {json_type(example)}"]
    if isinstance(example, list):
        return contract_breaks(actual[0], example[0], extras, f"{path}[]") if actual and example else []
    if not isinstance(example, dict):
        return []
    breaks = [f"{where}: missing {key!r}" for key in example if key not in actual]
    allowed = set(example) | extras.get(path, set())
    breaks += [f"{where}: {key!r} is not sent by GitLab" for key in actual if key not in allowed]
    for key in example.keys() & actual.keys():
        breaks += contract_breaks(actual[key], example[key], extras, f"{path}.{key}".lstrip("."))
    return breaks


@pytest.fixture
def released(server: SandboxGitLab, project: ProjectProxy) -> dict[str, int]:
    """A pipeline created through the API whose `build` job failed after leaving an artifact, and a second,
    canceled one: the states pc-release reads."""
    pipeline = project.pipelines.create({"ref": "master", "variables": [{"key": "RELEASE_MODE", "value": "full"}]})
    server.set_job_artifact(pipeline.id, "build", "build.env", b"VERSION=1.2.3\n")
    server.set_job_status(pipeline.id, "build", "running")
    server.set_job_status(pipeline.id, "build", "failed")
    build = next(j for j in server.jobs(pipeline.id) if j["name"] == "build")
    return {"pipeline": pipeline.id, "job": build["id"]}


ENDPOINTS = [
    # (example file, method, path under /projects/1, entity extras)
    ("pipelines_list.json", "GET", "/pipelines", "none"),
    ("pipeline_single.json", "GET", "/pipelines/{pipeline}", "pipeline"),
    ("pipeline_variables.json", "GET", "/pipelines/{pipeline}/variables", "none"),
    ("pipeline_jobs_list.json", "GET", "/pipelines/{pipeline}/jobs", "job"),
    ("job_single.json", "GET", "/jobs/{job}", "job"),
    ("commit_single.json", "GET", "/repository/commits/master", "commit"),
    ("branch_single.json", "GET", "/repository/branches/master", "none"),
    ("pipeline_create.json", "POST", "/pipeline", "pipeline_action"),
    ("pipeline_cancel.json", "POST", "/pipelines/{pipeline}/cancel", "pipeline_action"),
]


@pytest.mark.parametrize(("example", "method", "path", "entity"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_answer_has_the_documented_keys_and_types_and_nothing_gitlab_does_not_send(
    gl: gitlab.Gitlab, released: dict[str, int], example: str, method: str, path: str, entity: str
) -> None:
    url = "/projects/1" + path.format(**released)
    answer = gl.http_get(url) if method == "GET" else gl.http_post(url, post_data={"ref": "master"})
    documented = reference(example)
    if isinstance(documented, list):
        # The failed build job (or the first item) answers for every documented item: all their keys.
        documented = {key: value for item in reversed(documented) for key, value in item.items()}
        answer = next((item for item in answer if item.get("id") == released["job"]), answer[0])
    breaks = contract_breaks(answer, documented, ENTITY_EXTRAS[entity])
    assert not breaks, "\n".join(breaks)


def test_bridges_have_the_documented_keys_and_types_and_nothing_gitlab_does_not_send(
    gl: gitlab.Gitlab, server: SandboxGitLab, origin: Origin, project: ProjectProxy
) -> None:
    child = "child-deploy:\n  script: [echo deploy]\n"
    trigger = "deploy-child:\n  stage: deploy\n  trigger:\n    include: child.yml\n    strategy: depend\n"
    origin.commit({".gitlab-ci.yml": "stages: [deploy]\n" + trigger, "child.yml": child})
    pipeline = project.pipelines.create({"ref": "master"}).id

    (answer,) = gl.http_get(f"/projects/1/pipelines/{pipeline}/bridges")

    assert answer["downstream_pipeline"] is not None
    documented = reference("pipeline_bridges_list.json")[0]
    breaks = contract_breaks(answer, documented, ENTITY_EXTRAS["bridge"])
    assert not breaks, "\n".join(breaks)
    assert gl.http_get(f"/projects/1/pipelines/{pipeline}/jobs") == []  # a trigger job is not a job here


def test_job_of_a_passed_job_without_artifacts_has_no_failure_reason_or_artifacts_file(
    gl: gitlab.Gitlab, server: SandboxGitLab, released: dict[str, int]
) -> None:
    # Entities::Ci::Job exposes them only `if: job.failed?` and `if: job.artifacts?`.
    test_job = next(j for j in server.jobs(released["pipeline"]) if j["name"] == "test")
    server.retry_job(released["pipeline"], "build")
    server.set_job_status(released["pipeline"], "build", "success")
    server.set_job_status(released["pipeline"], "test", "success")
    answer = gl.http_get(f"/projects/1/jobs/{test_job['id']}")
    assert answer["status"] == "success"
    assert "failure_reason" not in answer and "artifacts_file" not in answer
    failed = gl.http_get(f"/projects/1/jobs/{released['job']}")
    assert (failed["failure_reason"], failed["artifacts_file"]["filename"]) == ("script_failure", "artifacts.zip")


def test_throttled_request_is_answered_like_gitlabs_rack_attack(
    token: str, gl: gitlab.Gitlab, server: SandboxGitLab
) -> None:
    server.fail_next(1, 429, retry_after=3)
    response = requests.get(f"{server.url}/api/v4/projects/1", headers={"PRIVATE-TOKEN": token}, timeout=5)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == "Retry later\n"  # Gitlab::Throttle's default rate-limiting response text
    server.fail_next(1, 429, retry_after=0)
    assert gl.projects.get(1).name == "platform-control"  # python-gitlab waits and retries on it


def test_latest_pipeline_is_the_newest_for_the_refs_head_commit(
    gl: gitlab.Gitlab, server: SandboxGitLab, origin: Origin, project: ProjectProxy
) -> None:
    first = server.create_pipeline("master")["id"]
    second = server.create_pipeline("master")["id"]
    latest = gl.http_get("/projects/1/pipelines/latest")  # no ref: the default branch
    assert latest["id"] == second
    assert contract_breaks(latest, reference("pipeline_single.json"), ENTITY_EXTRAS["pipeline"]) == []
    assert project.pipelines.latest(ref="master").id == second != first

    origin.commit({"README.md": "a newer head\n"}, "newer head")
    with pytest.raises(gitlab.exceptions.GitlabHttpError) as none_at_head:
        project.pipelines.latest(ref="master")
    assert none_at_head.value.response_code == 403  # authorize! on no pipeline, as doc/api/pipelines.md says
    third = server.create_pipeline("master")["id"]
    assert project.pipelines.latest(ref="master").id == third


def test_file_variable_keeps_its_type(project: ProjectProxy) -> None:
    pipeline = project.pipelines.create(
        {
            "ref": "master",
            "variables": [
                {"key": "KUBECONFIG", "value": "apiVersion: v1\n", "variable_type": "file"},
                {"key": "RELEASE_MODE", "value": "full"},
            ],
        }
    )
    variables = [(v.key, v.value, v.variable_type) for v in pipeline.variables.list()]
    assert variables == [("KUBECONFIG", "apiVersion: v1\n", "file"), ("RELEASE_MODE", "full", "env_var")]
    with pytest.raises(gitlab.exceptions.GitlabCreateError) as bad_type:
        project.pipelines.create({"ref": "master", "variables": [{"key": "A", "value": "b", "variable_type": "x"}]})
    assert bad_type.value.response_code == 400
    assert "variables[0][variable_type] does not have a valid value" in str(bad_type.value)


def test_jobs_carry_gitlabs_user_entity_and_pipelines_its_basic_user(
    gl: gitlab.Gitlab, released: dict[str, int]
) -> None:
    job = gl.http_get(f"/projects/1/jobs/{released['job']}")
    pipeline = gl.http_get(f"/projects/1/pipelines/{released['pipeline']}")
    assert set(job["user"]) == set(reference("job_single.json")["user"])
    assert set(pipeline["user"]) == set(reference("pipeline_single.json")["user"])
    assert job["user"]["username"] == pipeline["user"]["username"] == "pc-release"


def test_single_commit_has_gitlabs_stats(gl: gitlab.Gitlab, origin: Origin) -> None:
    root = gl.http_get("/projects/1/repository/commits/master")
    # The initial commit holds .gitlab-ci.yml and a one-line README: all added, against the empty tree.
    ci_lines = len((origin.work / ".gitlab-ci.yml").read_text().splitlines())
    assert root["stats"] == {"additions": ci_lines + 1, "deletions": 0, "total": ci_lines + 1}

    sha = origin.commit({"README.md": "platform-control\nreleased by pc-release\n", "logo.bin": "\0\1\2"})
    commit = gl.http_get(f"/projects/1/repository/commits/{sha}")
    assert commit["stats"] == {"additions": 1, "deletions": 0, "total": 1}  # binary files count no lines
    origin.commit({"README.md": "rewritten\n"})
    assert gl.http_get("/projects/1/repository/commits/master")["stats"] == {
        "additions": 1,
        "deletions": 2,
        "total": 3,
    }
    assert "stats" not in gl.http_get(f"/projects/1/repository/commits/{sha}", query_data={"stats": False})
    # Only CommitDetail has them: the Commit entity on a branch does not.
    assert "stats" not in gl.http_get("/projects/1/repository/branches/master")["commit"]


# lib/api/entities/ci/lint/result.rb (Entities::Ci::Lint::Result): `jobs` only when include_jobs is true.
LINT_RESULT = {"valid", "errors", "warnings", "merged_yaml", "includes"}
# lib/gitlab/ci/config/external/file/base.rb and local.rb, project.rb: File#metadata.
LINT_INCLUDE = {"type", "location", "blob", "raw", "extra", "context_project", "context_sha"}
# lib/gitlab/ci/lint.rb: a static check's jobs (yaml_processor_result_to_jobs); a dry run's have no
# only, except and needs (dry_run_convert_to_jobs).
LINT_STATIC_JOB = {"name", "stage", "before_script", "script", "after_script", "tag_list", "environment", "when"}
LINT_STATIC_JOB |= {"allow_failure", "only", "except", "needs"}
LINT_DRY_RUN_JOB = LINT_STATIC_JOB - {"only", "except", "needs"}


def test_ci_lint_answers_exactly_gitlabs_lint_result(gl: gitlab.Gitlab, origin: Origin) -> None:
    sha = origin.commit({".gitlab-ci.yml": "include: ci/jobs.yml\n", "ci/jobs.yml": "job:\n  script: [x]\n"})

    plain = gl.http_get("/projects/1/ci/lint", query_data={"content_ref": sha})
    with_jobs = gl.http_get("/projects/1/ci/lint", query_data={"content_ref": sha, "include_jobs": True})
    dry_run = gl.http_get("/projects/1/ci/lint", query_data={"dry_run": True, "include_jobs": True})
    invalid_sha = origin.commit({".gitlab-ci.yml": "include: ci/missing.yml\n"})
    invalid = gl.http_get("/projects/1/ci/lint", query_data={"content_ref": invalid_sha})

    assert set(plain) == LINT_RESULT
    assert set(with_jobs) == LINT_RESULT | {"jobs"}
    assert [set(item) for item in plain["includes"]] == [LINT_INCLUDE]
    assert [set(job) for job in with_jobs["jobs"]] == [LINT_STATIC_JOB]
    assert [set(job) for job in dry_run["jobs"]] == [LINT_DRY_RUN_JOB]
    assert set(invalid) == LINT_RESULT
    assert (invalid["valid"], invalid["merged_yaml"], invalid["includes"]) == (False, None, None)
    for answer in (plain, with_jobs, invalid):
        assert isinstance(answer["errors"], list) and isinstance(answer["warnings"], list)


def test_ci_lint_refuses_both_spellings_of_one_parameter(gl: gitlab.Gitlab, origin: Origin) -> None:
    sha = origin.commit({})
    for query in ({"sha": sha, "content_ref": sha}, {"ref": "master", "dry_run_ref": "master"}):
        with pytest.raises(gitlab.exceptions.GitlabHttpError) as err:
            gl.http_get("/projects/1/ci/lint", query_data=query)
        assert err.value.response_code == 400
        assert "are mutually exclusive" in str(err.value)
