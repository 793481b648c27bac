"""The sandbox GitLab's routes: one table maps each method and path pattern to its handler.

A pattern names its parameters `:name` (one path segment) or `*name` (one or more segments); they reach the
handler URL-decoded. The first matching route wins; a path some route matches with another method answers 405,
a path none matches 404. Routes under `/api/v4/projects/:project/` answer 404 for another project, and need
Developer access for anything but GET.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from pc_release.sandbox import ci_lint
from pc_release.sandbox.gitlab.access import DEVELOPER
from pc_release.sandbox.gitlab.errors import PipelineCreationError, SandboxLookupError
from pc_release.sandbox.gitlab.http import ApiError, Request, Response, error, json_response, paginate
from pc_release.sandbox.gitlab.origin import DEFAULT_BRANCH, NULL_SHA
from pc_release.sandbox.gitlab.pipeline_state import CANCELABLE_STATUSES, COMPLETED_STATUSES, set_job_status
from pc_release.sandbox.gitlab.views import is_ci_source, millis, parse_millis, safe_relative

if TYPE_CHECKING:
    from pc_release.sandbox.gitlab.server import SandboxGitLab

Params = Mapping[str, str]
Handler = Callable[["Api", Request, Params], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


def route(method: str, path: str, handler: Handler) -> Route:
    """A route for `path`, where `:name` matches one segment and `*name` one or more."""
    parts = []
    for segment in path.strip("/").split("/"):
        if segment.startswith(":"):
            parts.append(f"(?P<{segment[1:]}>[^/]+)")
        elif segment.startswith("*"):
            parts.append(f"(?P<{segment[1:]}>.+?)")
        else:
            parts.append(re.escape(segment))
    return Route(method, re.compile("/" + "/".join(parts) + "/?"), handler)


def control(handler: Handler) -> Handler:
    """A control-API handler: a bad request or an unknown pipeline answers 400/404 with what was wrong."""

    def guarded(api: Api, request: Request, params: Params) -> Response:
        try:
            return handler(api, request, params)
        except PipelineCreationError as err:
            return error(400, {"base": [str(err)]})
        except SandboxLookupError as err:
            return error(404, str(err))
        except (KeyError, ValueError, TypeError) as err:
            return error(400, f"bad control request: {err}")

    return guarded


class Api:
    """The REST v4 subset and the control API; every handler runs under the server lock."""

    def __init__(self, server: SandboxGitLab) -> None:
        self.s = server

    def dispatch(self, request: Request) -> Response:
        allowed = False
        for entry in ROUTES:
            found = entry.pattern.fullmatch(request.raw_path)
            if found is None:
                continue
            if entry.method != request.method:
                allowed = True
                continue
            params = {key: unquote(value) for key, value in found.groupdict().items()}
            if "project" in params and not self.s._matches_project(params["project"]):
                return error(404, "404 Project Not Found")
            if request.method != "GET" and request.access_level < DEVELOPER:
                return error(403, "403 Forbidden")  # a Reporter reads; running or retrying pipelines needs Developer
            with self.s._lock:
                return entry.handler(self, request, params)
        return error(405, "405 Method Not Allowed") if allowed else error(404, "404 Not Found")

    # --- instance ------------------------------------------------------------------------------------

    def version(self, request: Request, params: Params) -> Response:
        return json_response(200, {"version": "17.0.0-pc-release-sandbox", "revision": "sandbox"})

    def user(self, request: Request, params: Params) -> Response:
        return json_response(200, self.s.views.user())

    # --- project, branches, commits ------------------------------------------------------------------

    def project(self, request: Request, params: Params) -> Response:
        project = self.s.views.project()
        project["permissions"] = {
            "project_access": {"access_level": request.access_level, "notification_level": 3},
            "group_access": None,
        }
        return json_response(200, project)

    def branches(self, request: Request, params: Params) -> Response:
        heads = self.s._origin.branches()
        search = request.arg("search")
        names = sorted(n for n in heads if not search or search in n)
        return paginate(request, [self.s.views.branch(n, heads[n], request.access_level) for n in names])

    def branch(self, request: Request, params: Params) -> Response:
        heads = self.s._origin.branches()
        name = params["branch"]
        if name not in heads:
            return error(404, "404 Branch Not Found")
        return json_response(200, self.s.views.branch(name, heads[name], request.access_level))

    def commit(self, request: Request, params: Params) -> Response:
        sha = self.s._origin.resolve_commit(params["sha"])
        if sha is None:
            return error(404, "404 Commit Not Found")
        # doc/api/commits.md: `stats` (default true) includes the commit's stats.
        stats = request.arg("stats") is None or request.flag("stats")
        return json_response(200, self.s.views.commit(sha, with_pipeline=True, stats=stats))

    # --- CI configuration ----------------------------------------------------------------------------

    def ci_lint(self, request: Request, params: Params) -> Response:
        """lib/api/lint.rb `GET :id/ci/lint`: the `.gitlab-ci.yml` at `content_ref` (the default branch's head by
        default), merged and checked; with `dry_run`, a pipeline creation simulated on `dry_run_ref`."""
        for old, new in (("sha", "content_ref"), ("ref", "dry_run_ref")):
            if request.arg(old) is not None and request.arg(new) is not None:
                return json_response(400, {"error": f"{old}, {new} are mutually exclusive"})
        sha = self.s._origin.resolve_commit(request.arg("content_ref") or request.arg("sha") or DEFAULT_BRANCH)
        if sha is None:
            return error(404, "404 Commit Not Found")
        answer = ci_lint.lint(
            self.s,
            sha,
            dry_run=request.flag("dry_run"),
            dry_run_ref=request.arg("dry_run_ref") or request.arg("ref"),
        )
        return json_response(200, answer.body(include_jobs=request.flag("include_jobs")))

    # --- pipelines -----------------------------------------------------------------------------------

    def create_pipeline(self, request: Request, params: Params) -> Response:
        ref = request.body.get("ref")
        if not ref:
            return error(400, "ref is missing")
        if not any(self.s.access.may_write(str(ref), request.access_level)):
            # GitLab's answer when the user may neither push nor merge to a protected ref.
            return error(400, {"base": ["Insufficient permissions to create a new pipeline"]})
        variables, types = {}, {}
        for index, item in enumerate(request.body.get("variables") or []):
            if isinstance(item, dict) and "key" in item:
                key = str(item["key"])
                variables[key] = "" if item.get("value") is None else str(item["value"])
                # Grape's `values: Ci::PipelineVariable.variable_types.keys, default: 'env_var'`.
                types[key] = str(item.get("variable_type") or "env_var")
                if types[key] not in ("env_var", "file"):
                    message = f"variables[{index}][variable_type] does not have a valid value"
                    return json_response(400, {"error": message})
        try:
            pipeline = self.s._create_pipeline(str(ref), None, variables, "api", NULL_SHA, types)
        except PipelineCreationError as err:
            return error(400, {"base": [str(err)]})
        return json_response(201, self.s.views.pipeline(pipeline, detailed=True))

    def _pipeline_or_404(self, pipeline_id: str) -> dict[str, Any]:
        pipeline = self.s._pipelines.get(int(pipeline_id)) if pipeline_id.isdigit() else None
        if pipeline is None:
            raise ApiError(404, "404 Not found")
        return pipeline

    def pipelines(self, request: Request, params: Params) -> Response:
        listed = self._filtered_pipelines(request)
        return paginate(request, [self.s.views.pipeline(p, False, metadata=True) for p in listed])

    def latest_pipeline(self, request: Request, params: Params) -> Response:
        # GitLab's Project#latest_pipeline: the newest pipeline for the ref at its head commit. With none,
        # `authorize! :read_pipeline, nil` answers 403, as doc/api/pipelines.md says.
        ref = request.arg("ref") or DEFAULT_BRANCH
        head = self.s._origin.resolve(ref)
        candidates = [
            p for p in self.s._pipelines.values() if head and (p["ref"], p["sha"]) == (ref, head[0]) and is_ci_source(p)
        ]
        if not candidates:
            return error(403, "403 Forbidden")
        latest = max(candidates, key=lambda p: p["id"])
        return json_response(200, self.s.views.pipeline(latest, detailed=True, metadata=True))

    def pipeline(self, request: Request, params: Params) -> Response:
        pipeline = self._pipeline_or_404(params["pipeline_id"])
        return json_response(200, self.s.views.pipeline(pipeline, detailed=True, metadata=True))

    def pipeline_variables(self, request: Request, params: Params) -> Response:
        return json_response(200, self._pipeline_or_404(params["pipeline_id"])["variables"])

    def pipeline_jobs(self, request: Request, params: Params) -> Response:
        pipeline = self._pipeline_or_404(params["pipeline_id"])
        # GitLab lists only each job's latest attempt here unless include_retried=true (doc/api/jobs.md);
        # the project's job list has no such parameter and lists every attempt.
        # Trigger jobs are not listed here: GitLab lists them under `bridges`.
        jobs = [j for j in self.s._jobs.values() if j["pipeline_id"] == pipeline["id"] and not j.get("trigger")]
        if not request.flag("include_retried"):
            jobs = [j for j in jobs if not j["retried"]]
        return paginate(request, [self.s.views.job(j) for j in self._filtered_jobs(request, jobs)])

    def pipeline_bridges(self, request: Request, params: Params) -> Response:
        """doc/api/jobs.md "List pipeline trigger jobs": each trigger job's latest attempt, newest first."""
        pipeline = self._pipeline_or_404(params["pipeline_id"])
        bridges = [j for j in self.s._latest_jobs(pipeline["id"]) if j.get("trigger")]
        return paginate(request, [self.s.views.bridge(j) for j in self._filtered_jobs(request, bridges)])

    def cancel_pipeline(self, request: Request, params: Params) -> Response:
        pipeline = self._pipeline_or_404(params["pipeline_id"])
        self.s._cancel(pipeline)
        return json_response(200, self.s.views.pipeline(pipeline, detailed=True))

    def retry_pipeline(self, request: Request, params: Params) -> Response:
        pipeline = self._pipeline_or_404(params["pipeline_id"])
        for job in self.s._latest_jobs(pipeline["id"]):
            if job["status"] in ("failed", "canceled"):
                self.s._retry(job)
        self.s._save()
        return json_response(201, self.s.views.pipeline(pipeline, detailed=True))

    def _filtered_pipelines(self, request: Request) -> list[dict[str, Any]]:
        items = list(self.s._pipelines.values())
        for key in ("ref", "sha", "status", "source"):
            value = request.arg(key)
            if value:
                items = [p for p in items if p[key] == value]
        scope = request.arg("scope")
        scopes: dict[str, Callable[[Mapping[str, Any]], bool]] = {
            "running": lambda p: p["status"] == "running",
            "pending": lambda p: p["status"] == "pending",
            "finished": lambda p: p["status"] in COMPLETED_STATUSES,
            "branches": lambda p: not p["tag"],
            "tags": lambda p: p["tag"],
        }
        if scope in scopes:
            items = [p for p in items if scopes[scope](p)]
        if request.arg("yaml_errors") is not None:
            wanted = request.flag("yaml_errors")
            items = [p for p in items if bool(p.get("yaml_errors")) == wanted]
        try:
            if request.arg("updated_after"):
                after = parse_millis(request.arg("updated_after") or "")
                items = [p for p in items if millis(p["updated_at"]) > after]
            if request.arg("updated_before"):
                before = parse_millis(request.arg("updated_before") or "")
                items = [p for p in items if millis(p["updated_at"]) < before]
        except ValueError as err:
            raise ApiError(400, "updated_after/updated_before must be ISO 8601 date-times") from err
        order_by = request.arg("order_by", "id")
        if order_by not in ("id", "status", "ref", "updated_at", "user_id"):
            raise ApiError(400, "order_by does not have a valid value")
        sort = request.arg("sort", "desc")
        if sort not in ("asc", "desc"):
            raise ApiError(400, "sort does not have a valid value")
        key = "id" if order_by == "user_id" else order_by
        return sorted(items, key=lambda p: (p[key], p["id"]), reverse=sort == "desc")

    # --- jobs ----------------------------------------------------------------------------------------

    def _filtered_jobs(self, request: Request, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        scopes = set(request.query.get("scope[]", []) + request.query.get("scope", []))
        if scopes:
            jobs = [j for j in jobs if j["status"] in scopes]
        # GitLab lists jobs newest first.
        return sorted(jobs, key=lambda j: j["id"], reverse=True)

    def _job_or_404(self, job_id: str) -> dict[str, Any]:
        job = self.s._jobs.get(int(job_id)) if job_id.isdigit() else None
        if job is None:
            raise ApiError(404, "404 Not found")
        return job

    def project_jobs(self, request: Request, params: Params) -> Response:
        jobs = self._filtered_jobs(request, [j for j in self.s._jobs.values() if not j.get("trigger")])
        return paginate(request, [self.s.views.job(j) for j in jobs])

    def job(self, request: Request, params: Params) -> Response:
        return json_response(200, self.s.views.job(self._job_or_404(params["job_id"])))

    def job_trace(self, request: Request, params: Params) -> Response:
        trace = self.s._trace_path(self._job_or_404(params["job_id"])["id"])
        body = trace.read_bytes() if trace.exists() else b""
        return Response(200, body, "text/plain; charset=utf-8")

    def job_artifacts(self, request: Request, params: Params) -> Response:
        job = self._job_or_404(params["job_id"])
        if not job["artifacts"]:
            return error(404, "404 Not Found")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for relative in job["artifacts"]:
                archive.write(self.s._artifacts_dir(job["id"]) / relative, relative)
        return Response(200, buffer.getvalue(), "application/zip")

    def job_artifact_file(self, request: Request, params: Params) -> Response:
        return self._artifact_file(self._job_or_404(params["job_id"]), params["artifact_path"])

    def _artifact_file(self, job: Mapping[str, Any], path: str) -> Response:
        relative = safe_relative(path)
        if relative is None or relative not in job["artifacts"]:
            return error(404, "404 Not Found")
        content = (self.s._artifacts_dir(job["id"]) / relative).read_bytes()
        return Response(200, content, "application/octet-stream")

    def artifact_by_ref(self, request: Request, params: Params) -> Response:
        """The file from the latest successful job named `job` on `ref`, like GitLab's raw download.

        python-gitlab leaves `/` in the ref unencoded here, so the ref ends at the first `raw` segment.
        """
        name, ref = request.arg("job"), params["ref"]
        candidates = [
            j
            for j in self.s._jobs.values()
            if j["name"] == name and j["status"] == "success" and self.s._pipelines[j["pipeline_id"]]["ref"] == ref
        ]
        if not candidates:
            return error(404, "404 Not Found")
        return self._artifact_file(max(candidates, key=lambda j: j["id"]), params["artifact_path"])

    def retry_job(self, request: Request, params: Params) -> Response:
        job = self._job_or_404(params["job_id"])
        try:
            clone = self.s._retry(job)
        except PermissionError:
            return error(403, "403 Forbidden - Job is not retryable")
        self.s._save()
        return json_response(201, self.s.views.job(clone))

    def cancel_job(self, request: Request, params: Params) -> Response:
        job = self._job_or_404(params["job_id"])
        if job["status"] in CANCELABLE_STATUSES:
            set_job_status(job, "canceled")
            self.s._process(self.s._pipelines[job["pipeline_id"]])
            self.s._save()
        return json_response(201, self.s.views.job(job))

    # --- control API ---------------------------------------------------------------------------------

    def control_create_pipeline(self, request: Request, params: Params) -> Response:
        body = request.body
        variables = {str(k): str(v) for k, v in (body.get("variables") or {}).items()}
        pipeline = self.s.create_pipeline(str(body["ref"]), body.get("sha"), variables, str(body.get("source", "push")))
        return json_response(201, pipeline)

    def control_job_status(self, request: Request, params: Params) -> Response:
        body = request.body
        self.s.set_job_status(int(body["pipeline_id"]), str(body["job_name"]), str(body["status"]))
        return json_response(200, {"ok": True})

    def control_pipeline_status(self, request: Request, params: Params) -> Response:
        body = request.body
        self.s.set_pipeline_status(int(body["pipeline_id"]), str(body["status"]))
        return json_response(200, {"ok": True})

    def control_faults(self, request: Request, params: Params) -> Response:
        body = request.body
        self.s.set_faults(
            rate=float(body.get("rate", 0.0)),
            kinds=tuple(body.get("kinds", ("502", "503", "429", "slow"))),
            seed=body.get("seed"),
            slow_seconds=float(body.get("slow_seconds", 0.3)),
            retry_after=int(body.get("retry_after", 1)),
        )
        return json_response(200, {"ok": True})

    def control_fail_next(self, request: Request, params: Params) -> Response:
        body = request.body
        self.s.fail_next(int(body["n"]), int(body.get("status", 502)), body.get("retry_after"))
        return json_response(200, {"ok": True})

    def control_master_ci(self, request: Request, params: Params) -> Response:
        body = request.body
        self.s.set_master_ci(slow_seconds=float(body.get("slow_seconds", 0.0)), fail=bool(body.get("fail")))
        return json_response(200, {"ok": True})

    def control_requests(self, request: Request, params: Params) -> Response:
        return json_response(200, [list(entry) for entry in self.s.request_log])

    def control_reset_requests(self, request: Request, params: Params) -> Response:
        self.s.reset_request_log()
        return json_response(200, {"ok": True})


PROJECT = "/api/v4/projects/:project"
ROUTES: list[Route] = [
    route("GET", "/api/v4/version", Api.version),
    route("GET", "/api/v4/user", Api.user),
    route("GET", PROJECT, Api.project),
    route("GET", f"{PROJECT}/repository/branches", Api.branches),
    route("GET", f"{PROJECT}/repository/branches/*branch", Api.branch),
    route("GET", f"{PROJECT}/repository/commits/:sha", Api.commit),
    route("GET", f"{PROJECT}/ci/lint", Api.ci_lint),
    route("POST", f"{PROJECT}/pipeline", Api.create_pipeline),
    route("GET", f"{PROJECT}/pipelines", Api.pipelines),
    route("GET", f"{PROJECT}/pipelines/latest", Api.latest_pipeline),
    route("GET", f"{PROJECT}/pipelines/:pipeline_id", Api.pipeline),
    route("GET", f"{PROJECT}/pipelines/:pipeline_id/variables", Api.pipeline_variables),
    route("GET", f"{PROJECT}/pipelines/:pipeline_id/jobs", Api.pipeline_jobs),
    route("GET", f"{PROJECT}/pipelines/:pipeline_id/bridges", Api.pipeline_bridges),
    route("POST", f"{PROJECT}/pipelines/:pipeline_id/cancel", Api.cancel_pipeline),
    route("POST", f"{PROJECT}/pipelines/:pipeline_id/retry", Api.retry_pipeline),
    route("GET", f"{PROJECT}/jobs", Api.project_jobs),
    route("GET", f"{PROJECT}/jobs/artifacts/*ref/raw/*artifact_path", Api.artifact_by_ref),
    route("GET", f"{PROJECT}/jobs/:job_id", Api.job),
    route("GET", f"{PROJECT}/jobs/:job_id/trace", Api.job_trace),
    route("GET", f"{PROJECT}/jobs/:job_id/artifacts", Api.job_artifacts),
    route("GET", f"{PROJECT}/jobs/:job_id/artifacts/*artifact_path", Api.job_artifact_file),
    route("POST", f"{PROJECT}/jobs/:job_id/retry", Api.retry_job),
    route("POST", f"{PROJECT}/jobs/:job_id/cancel", Api.cancel_job),
    route("POST", "/-/sandbox/pipelines", control(Api.control_create_pipeline)),
    route("POST", "/-/sandbox/jobs/status", control(Api.control_job_status)),
    route("POST", "/-/sandbox/pipelines/status", control(Api.control_pipeline_status)),
    route("POST", "/-/sandbox/faults", control(Api.control_faults)),
    route("POST", "/-/sandbox/faults/next", control(Api.control_fail_next)),
    route("POST", "/-/sandbox/master-ci", control(Api.control_master_ci)),
    route("GET", "/-/sandbox/requests", control(Api.control_requests)),
    route("POST", "/-/sandbox/requests/reset", control(Api.control_reset_requests)),
]
