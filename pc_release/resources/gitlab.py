"""GitLabResource: the pipelines API calls pc-release makes, via python-gitlab, returning pc_release.models."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from pc_release.errors import ConfigurationError, GitLabError, redact
from pc_release.models import BranchAccess, JobInfo, PipelineInfo

TOKEN_ENV_VAR = "PC_RELEASE_GITLAB_TOKEN"
REQUEST_ID_VARIABLE = "PC_RELEASE_REQUEST_ID"
# How many recent release-branch pipelines to inspect for an earlier attempt of the same request.
_IDEMPOTENCY_WINDOW = 5


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _pipeline(attrs: dict[str, Any]) -> PipelineInfo:
    return PipelineInfo(
        id=attrs["id"],
        sha=attrs["sha"],
        ref=attrs["ref"],
        status=attrs["status"],
        web_url=attrs.get("web_url") or "",
        source=attrs.get("source"),
        created_at=_time(attrs.get("created_at")),
        updated_at=_time(attrs.get("updated_at")),
    )


def _job(attrs: dict[str, Any]) -> JobInfo:
    return JobInfo(
        id=attrs["id"],
        name=attrs["name"],
        stage=attrs.get("stage") or "",
        status=attrs["status"],
        web_url=attrs.get("web_url") or "",
        allow_failure=bool(attrs.get("allow_failure")),
        started_at=_time(attrs.get("started_at")),
        finished_at=_time(attrs.get("finished_at")),
        duration=attrs.get("duration"),
    )


class GitLabResource(dg.ConfigurableResource):
    """The GitLab project that runs platform-control's pipelines.

    The token is bound with `dg.EnvVar`, so Dagster never stores its value in run config, and every error
    message passes through `redact` before it leaves this class.
    """

    url: str
    project: str
    token: str = Field(default="", description=f"Bind with dg.EnvVar({TOKEN_ENV_VAR!r}); never logged.")
    master_branch: str = "master"
    release_branch: str = "release/platform-control"
    timeout_seconds: float = 30.0

    # python-gitlab is imported where it is used: loading the code location should not pay for it.
    _gl: Any = PrivateAttr(default=None)

    def _client(self) -> Any:
        import gitlab

        if not self.token:
            raise ConfigurationError(
                f"no GitLab token: set {TOKEN_ENV_VAR} in the environment of pc-release", rule="gitlab-token"
            )
        if self._gl is None:
            self._gl = gitlab.Gitlab(
                self.url,
                private_token=self.token,
                retry_transient_errors=True,
                timeout=self.timeout_seconds,
            )
        return self._gl

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        import gitlab.exceptions

        try:
            yield
        except gitlab.exceptions.GitlabAuthenticationError:
            raise GitLabError(
                f"GitLab rejected the token while {doing} (401): check {TOKEN_ENV_VAR}", rule="gitlab-auth"
            ) from None
        except gitlab.exceptions.GitlabError as err:
            code = err.response_code
            rule = {403: "gitlab-permission", 404: "gitlab-not-found"}.get(code or 0, "gitlab")
            if code is None or code >= 500:
                rule = "gitlab-transient"
            message = redact(str(err.error_message), self.token)
            raise GitLabError(f"GitLab answered {code} while {doing}: {message}", rule=rule) from None
        except Exception as err:
            if type(err).__module__.startswith(("requests", "urllib3")):
                raise GitLabError(
                    f"GitLab unreachable at {self.url} while {doing}: {type(err).__name__}",
                    rule="gitlab-transient",
                ) from None
            raise

    def _project(self) -> Any:
        return self._client().projects.get(self.project, lazy=True)

    def access_level(self) -> int | None:
        """The token's access level on the project (GitLab's `permissions`), or None when GitLab does not say."""
        with self._errors("reading the project's permissions"):
            permissions = self._client().projects.get(self.project).attributes.get("permissions") or {}
        levels = [(permissions.get(scope) or {}).get("access_level") for scope in ("project_access", "group_access")]
        known = [level for level in levels if isinstance(level, int)]
        return max(known) if known else None

    def branch_access(self, branch: str) -> BranchAccess | None:
        """The branch as GitLab shows it to the token's user, or None while it does not exist."""
        try:
            with self._errors(f"reading branch {branch}"):
                attrs = self._project().branches.get(branch).attributes
        except GitLabError as err:
            if err.rule == "gitlab-not-found":
                return None
            raise
        return BranchAccess(
            name=attrs["name"],
            protected=bool(attrs.get("protected")),
            can_push=bool(attrs.get("can_push")),
            developers_can_merge=bool(attrs.get("developers_can_merge")),
        )

    def master_pipeline_for(self, sha: str) -> PipelineInfo | None:
        """The newest master pipeline for exactly this SHA (one request, whatever the history)."""
        with self._errors(f"reading {self.master_branch} pipelines for {sha}"):
            found = self._project().pipelines.list(
                ref=self.master_branch, sha=sha, order_by="id", sort="desc", per_page=1, get_all=False
            )
        return _pipeline(found[0].attributes) if found else None

    def latest_pipelines(self, ref: str, *, per_page: int = 1, **filters: Any) -> list[PipelineInfo]:
        with self._errors(f"listing {ref} pipelines"):
            found = self._project().pipelines.list(
                ref=ref, order_by="id", sort="desc", per_page=per_page, get_all=False, **filters
            )
        return [_pipeline(p.attributes) for p in found]

    def pipeline(self, pipeline_id: int) -> PipelineInfo:
        with self._errors(f"reading pipeline {pipeline_id}"):
            return _pipeline(self._project().pipelines.get(pipeline_id).attributes)

    def pipeline_jobs(self, pipeline_id: int, *, include_retried: bool = False) -> list[JobInfo]:
        """The pipeline's jobs; like GitLab, only each job's latest attempt unless `include_retried`."""
        with self._errors(f"reading jobs of pipeline {pipeline_id}"):
            pipeline = self._project().pipelines.get(pipeline_id, lazy=True)
            jobs = pipeline.jobs.list(get_all=True, include_retried=include_retried, per_page=100)
        return [_job(j.attributes) for j in jobs]

    def pipeline_variables(self, pipeline_id: int) -> dict[str, str]:
        with self._errors(f"reading variables of pipeline {pipeline_id}"):
            pipeline = self._project().pipelines.get(pipeline_id, lazy=True)
            return {v.key: v.value for v in pipeline.variables.list(get_all=True)}

    def job_artifact(self, job_id: int, path: str) -> bytes | None:
        try:
            with self._errors(f"reading artifact {path} of job {job_id}"):
                return self._project().jobs.get(job_id, lazy=True).artifact(path)
        except GitLabError as err:
            if err.rule == "gitlab-not-found":
                return None
            raise

    def find_request_pipeline(self, sha: str, request_id: str) -> PipelineInfo | None:
        """An earlier pipeline created for this same promotion request, if any.

        Only the newest release-branch pipelines count: an old one for the same SHA belongs to an earlier
        release of it (a rollback is a new request), not to an interrupted attempt of this one.
        """
        for candidate in self.latest_pipelines(self.release_branch, per_page=_IDEMPOTENCY_WINDOW):
            if candidate.source == "push":
                continue  # the release branch guard's pipelines: started by the push, never by a request
            variables = self.pipeline_variables(candidate.id)
            if REQUEST_ID_VARIABLE not in variables:
                continue
            if candidate.sha == sha and variables[REQUEST_ID_VARIABLE] == request_id:
                return candidate
            return None
        return None

    def create_release_pipeline(self, sha: str, variables: dict[str, str]) -> tuple[PipelineInfo, bool]:
        """Create the release pipeline exactly once per request id; returns (pipeline, created_now).

        A POST that fails in transit may still have created the pipeline, so instead of letting
        python-gitlab blindly retry it, every retry first looks the request up again.
        """
        request_id = variables[REQUEST_ID_VARIABLE]
        payload = {
            "ref": self.release_branch,
            "variables": [{"key": k, "value": v, "variable_type": "env_var"} for k, v in variables.items()],
        }
        attempts = 6
        for attempt in range(attempts):
            existing = self.find_request_pipeline(sha, request_id)
            if existing is not None:
                return existing, False
            try:
                with self._errors(f"creating a {self.release_branch} pipeline"):
                    created = self._project().pipelines.create(payload, retry_transient_errors=False)
                info = _pipeline(created.attributes)
            except GitLabError as err:
                if err.rule != "gitlab-transient" or attempt == attempts - 1:
                    raise
                continue
            if info.sha != sha:
                raise GitLabError(
                    f"GitLab started pipeline {info.id} on {info.sha}, not {sha}: {self.release_branch} moved "
                    "after the push",
                    rule="release-branch-lease",
                )
            return info, True
        raise AssertionError("unreachable")
