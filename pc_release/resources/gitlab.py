"""GitLabResource: the pipelines API calls pc-release makes, via python-gitlab, returning pc_release.models."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from pc_release.ci.lint import CiLint
from pc_release.errors import ConfigurationError, GitLabError, redact
from pc_release.models import BranchAccess, BridgeInfo, JobInfo, PipelineInfo
from pc_release.policy import promotion as rules

TOKEN_ENV_VAR = "PC_RELEASE_GITLAB_TOKEN"
REQUEST_ID_VARIABLE = "PC_RELEASE_REQUEST_ID"
# How many recent release-branch pipelines to inspect for an earlier attempt of the same request, or for what a
# POST whose answer was lost created.
_IDEMPOTENCY_WINDOW = 5
TRACE_TAIL_LINES = 20
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# GitLab's token prefixes (personal, OAuth, deploy, runner, CI job, trigger, feed...): masked wherever a log shows one.
_GITLAB_TOKEN = re.compile(r"\bgl(?:pat|oas|dt|rt|cbt|ptt|ft|imt|soat|agent|ffct|rtr)-[0-9A-Za-z_-]{8,}")


def trace_tail(trace: str, token: str, lines: int = TRACE_TAIL_LINES) -> str:
    """The last `lines` lines of a job log, colours stripped, the token and anything shaped like a GitLab token
    masked."""
    text = _GITLAB_TOKEN.sub("[MASKED]", redact(_ANSI.sub("", trace), token))
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


# Page size when listing a ref's newest pipelines: child pipelines on the ref are skipped, so one page mostly
# holds the few asked for.
_PAGE = 10


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
        project_id=attrs.get("project_id"),
        created_at=_time(attrs.get("created_at")),
        updated_at=_time(attrs.get("updated_at")),
    )


def _job_fields(attrs: dict[str, Any]) -> dict[str, Any]:
    """What a job and a trigger job share: GitLab's `JobBasic` entity."""
    return dict(
        id=attrs["id"],
        name=attrs["name"],
        stage=attrs.get("stage") or "",
        status=attrs["status"],
        web_url=attrs.get("web_url") or "",
        allow_failure=bool(attrs.get("allow_failure")),
        started_at=_time(attrs.get("started_at")),
        finished_at=_time(attrs.get("finished_at")),
        duration=attrs.get("duration"),
        pipeline_id=(attrs.get("pipeline") or {}).get("id"),
    )


def _job(attrs: dict[str, Any]) -> JobInfo:
    return JobInfo(**_job_fields(attrs))


def _bridge(attrs: dict[str, Any]) -> BridgeInfo:
    downstream = attrs.get("downstream_pipeline")
    return BridgeInfo(**_job_fields(attrs), downstream=_pipeline(downstream) if downstream else None)


def _ci_source(attrs: dict[str, Any]) -> bool:
    """Whether a listed pipeline speaks for its ref: a child pipeline (source `parent_pipeline`) has the
    parent's ref and SHA but only its parent tells what CI said about them."""
    return attrs.get("source") != "parent_pipeline"


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

    def _branch(self, branch: str) -> dict[str, Any] | None:
        try:
            with self._errors(f"reading branch {branch}"):
                return self._project().branches.get(branch).attributes
        except GitLabError as err:
            if err.rule == "gitlab-not-found":
                return None
            raise

    def branch_access(self, branch: str) -> BranchAccess | None:
        """The branch as GitLab shows it to the token's user, or None while it does not exist."""
        attrs = self._branch(branch)
        if attrs is None:
            return None
        return BranchAccess(
            name=attrs["name"],
            protected=bool(attrs.get("protected")),
            can_push=bool(attrs.get("can_push")),
            developers_can_merge=bool(attrs.get("developers_can_merge")),
        )

    def branch_sha(self, branch: str) -> str | None:
        """The commit GitLab's own branch points at (what a pipeline on it runs), or None while it does not exist."""
        attrs = self._branch(branch)
        return attrs["commit"]["id"] if attrs is not None else None

    def repository_urls(self) -> tuple[str | None, str | None]:
        """The project's repository as GitLab names it: (http_url_to_repo, ssh_url_to_repo)."""
        with self._errors("reading the project's repository URLs"):
            attrs = self._client().projects.get(self.project).attributes
        return attrs.get("http_url_to_repo"), attrs.get("ssh_url_to_repo")

    def master_pipeline_for(self, sha: str) -> PipelineInfo | None:
        """The newest master pipeline for exactly this SHA (one request, whatever the history)."""
        found = self.latest_pipelines(self.master_branch, sha=sha)
        return found[0] if found else None

    def latest_pipelines(self, ref: str, *, per_page: int = 1, **filters: Any) -> list[PipelineInfo]:
        """The newest `per_page` pipelines on `ref`, child pipelines left out (they list under the same ref)."""
        with self._errors(f"listing {ref} pipelines"):
            listed = self._project().pipelines.list(
                ref=ref, order_by="id", sort="desc", per_page=max(per_page, _PAGE), iterator=True, **filters
            )
            found = []
            for pipeline in listed:
                if _ci_source(pipeline.attributes):
                    found.append(_pipeline(pipeline.attributes))
                if len(found) == per_page:
                    break
        return found

    def ci_lint(self, sha: str) -> CiLint:
        """GitLab's merged `.gitlab-ci.yml` at `sha` (`GET /projects/:id/ci/lint` with `content_ref`), every include
        resolved by GitLab. A static check, not a dry run: a dry run simulates a push pipeline, without the
        variables pc-release's release pipeline gets, so pc-release evaluates the rules itself."""
        with self._errors(f"reading GitLab's CI Lint of {sha[:12]}"):
            answer = self._project().ci_lint.get(content_ref=sha)
        return CiLint.from_answer(answer.attributes)

    def pipeline(self, pipeline_id: int) -> PipelineInfo:
        with self._errors(f"reading pipeline {pipeline_id}"):
            return _pipeline(self._project().pipelines.get(pipeline_id).attributes)

    def pipeline_jobs(self, pipeline_id: int, *, include_retried: bool = False) -> list[JobInfo]:
        """The pipeline's jobs; like GitLab, only each job's latest attempt unless `include_retried`."""
        with self._errors(f"reading jobs of pipeline {pipeline_id}"):
            pipeline = self._project().pipelines.get(pipeline_id, lazy=True)
            jobs = pipeline.jobs.list(get_all=True, include_retried=include_retried, per_page=100)
        return [_job(j.attributes) for j in jobs]

    def pipeline_bridges(self, pipeline_id: int) -> list[BridgeInfo]:
        """The pipeline's trigger jobs with their downstream pipelines: GitLab does not list them among its jobs."""
        with self._errors(f"reading trigger jobs of pipeline {pipeline_id}"):
            pipeline = self._project().pipelines.get(pipeline_id, lazy=True)
            bridges = pipeline.bridges.list(get_all=True, per_page=100)
        return [_bridge(b.attributes) for b in bridges]

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

    def job_trace_tail(self, job_id: int, lines: int = TRACE_TAIL_LINES) -> str:
        """The end of the job's log (`GET /jobs/:id/trace`), with secrets masked."""
        with self._errors(f"reading the log of job {job_id}"):
            raw = self._project().jobs.get(job_id, lazy=True).trace()
        return trace_tail(raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw), self.token, lines)

    def cancel_pipeline(self, pipeline_id: int) -> None:
        with self._errors(f"canceling pipeline {pipeline_id}"):
            self._project().pipelines.get(pipeline_id, lazy=True).cancel()

    def _request_id_of(self, pipeline: PipelineInfo) -> str | None:
        return self.pipeline_variables(pipeline.id).get(REQUEST_ID_VARIABLE)

    def _created_for_request(self, after_id: int, request_id: str) -> list[PipelineInfo]:
        """Pipelines of this request created after `after_id` (by an earlier POST whose answer was lost), oldest
        first."""
        newer = [p for p in self.latest_pipelines(self.release_branch, per_page=_IDEMPOTENCY_WINDOW) if p.id > after_id]
        return sorted((p for p in newer if self._request_id_of(p) == request_id), key=lambda p: p.id)

    def _keep_only_on(self, sha: str, created: list[PipelineInfo]) -> PipelineInfo:
        """Keep the first pipeline this request created on `sha`; cancel every other one it created, so none is
        left pending with the request's variables on a SHA it did not promote."""
        keep = next((p for p in created if p.sha == sha), None)
        for extra in created:
            if extra is not keep:
                self.cancel_pipeline(extra.id)
        if keep is None:
            moved = ", ".join(f"{p.id} on {p.sha}" for p in created)
            raise GitLabError(
                f"GitLab started this request's pipeline ({moved}), not on {sha}: {self.release_branch} moved after "
                "the push; the pipeline was canceled",
                rule="release-branch-lease",
            )
        return keep

    def newest_pipeline_id(self, ref: str) -> int:
        """The id of the newest pipeline on `ref`, 0 when it has none."""
        newest = self.latest_pipelines(ref)
        return newest[0].id if newest else 0

    def create_release_pipeline(
        self, sha: str, variables: dict[str, str], *, pipelines_before_push: int
    ) -> tuple[PipelineInfo, bool]:
        """Create the release pipeline exactly once per request id; returns (pipeline, created_now).

        An earlier attempt's pipeline is returned instead while it is still the branch's last deploy and newer
        than this run's push (`pipelines_before_push`). A POST that fails in transit may still have created the
        pipeline, so instead of letting python-gitlab blindly retry it, every retry first looks for what the lost
        POST created.
        """
        request_id = variables[REQUEST_ID_VARIABLE]
        newest = self.latest_pipelines(self.release_branch, per_page=_IDEMPOTENCY_WINDOW)
        existing = rules.reusable_request_pipeline(newest, sha, request_id, self._request_id_of, pipelines_before_push)
        if existing is not None:
            return existing, False
        before = newest[0].id if newest else 0
        payload = {
            "ref": self.release_branch,
            "variables": [{"key": k, "value": v, "variable_type": "env_var"} for k, v in variables.items()],
        }
        attempts = 6
        for attempt in range(attempts):
            if attempt:
                created = self._created_for_request(before, request_id)
                if created:  # found, as a re-run would find it: the POST's answer never came
                    return self._keep_only_on(sha, created), False
            try:
                with self._errors(f"creating a {self.release_branch} pipeline"):
                    response = self._project().pipelines.create(payload, retry_transient_errors=False)
            except GitLabError as err:
                if err.rule != "gitlab-transient" or attempt == attempts - 1:
                    raise
                continue
            return self._keep_only_on(sha, [_pipeline(response.attributes)]), True
        raise AssertionError("unreachable")
