"""The sandbox GitLab: one project over a bare repository, its pipelines and jobs, served on 127.0.0.1."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pc_release.ci import CI_FILE, CiConfig, CiConfigError, CiJob
from pc_release.sandbox import ci_lint
from pc_release.sandbox.gitlab import pipeline_state
from pc_release.sandbox.gitlab.access import MAINTAINER, Access
from pc_release.sandbox.gitlab.errors import PipelineCreationError, SandboxLookupError
from pc_release.sandbox.gitlab.faults import Faults, MasterCiPlan
from pc_release.sandbox.gitlab.http import handler_for
from pc_release.sandbox.gitlab.origin import DEFAULT_BRANCH, NULL_SHA, Origin
from pc_release.sandbox.gitlab.persistence import load_state, save_state
from pc_release.sandbox.gitlab.pipeline_state import (
    CANCELABLE_STATUSES,
    COMPLETED_STATUSES,
    RETRYABLE_STATUSES,
    checked_status,
    set_job_status,
)
from pc_release.sandbox.gitlab.routes import Api
from pc_release.sandbox.gitlab.views import Views, safe_relative
from pc_release.sandbox.runner import JobAssignment, JobResult, LocalPipelineRunner

WATCH_INTERVAL_SECONDS = 0.3


def connect_clone(clone: Path, remote: str, repository_url: str, token_variable: str) -> None:
    """Point `remote` of `clone` at the sandbox GitLab's repository URL, as an operator's clone of a GitLab
    project points at its `http_url_to_repo`. git authenticates with the token in `$token_variable`, read by a
    credential helper when git needs it, so the token is never written to the clone's config."""

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-C", str(clone), *args], capture_output=True, text=True, check=False)

    verb = "set-url" if remote in git("remote").stdout.split() else "add"
    git("remote", verb, remote, repository_url)
    key = f"credential.{repository_url}.helper"
    helper = f'!f() {{ test "$1" = get && printf "username=pc-release\\npassword=%s\\n" "${token_variable}"; }}; f'
    git("config", "--unset-all", key)
    git("config", "--add", key, "")  # drops the user's own helpers for this URL: none may store the token
    git("config", "--add", key, helper)


class SandboxGitLab:
    """The sandbox GitLab: one project backed by `origin`, served on 127.0.0.1."""

    def __init__(
        self,
        origin: Path,
        token: str,
        project_path: str = "platform/platform-control",
        project_id: int = 1,
        run_jobs: bool = False,
        state_dir: Path | None = None,
        watch_branches: tuple[str, ...] = (),
        port: int = 0,
        reporter_tokens: tuple[str, ...] = (),
        developer_tokens: tuple[str, ...] = (),
        protected_branches: Mapping[str, tuple[int, int]] | None = None,
        slow_master_ci_seconds: float = 0.0,
        fail_master_ci: bool = False,
    ) -> None:
        if not token:
            raise ValueError("SandboxGitLab needs a non-empty token")
        self._origin = Origin(origin)
        self._token = token
        # GitLab protects the default branch for Maintainers unless told otherwise.
        protected = {DEFAULT_BRANCH: (MAINTAINER, MAINTAINER)} if protected_branches is None else protected_branches
        self.access = Access(token, developer_tokens, reporter_tokens, protected)
        self.project_path = project_path
        self.project_id = project_id
        self._run_jobs = run_jobs
        self._state_dir = Path(state_dir) if state_dir is not None else None
        self._watch_branches = tuple(watch_branches)
        self._port = port
        self._lock = threading.RLock()
        self._pipelines: dict[int, dict[str, Any]] = {}
        self._jobs: dict[int, dict[str, Any]] = {}
        self._next_pipeline_id = 1
        self._next_job_id = 1
        self.faults = Faults()
        self._master_ci = MasterCiPlan(slow_master_ci_seconds, fail_master_ci)
        self.views = Views(self)
        self._request_log: list[tuple[str, str]] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._runner: LocalPipelineRunner | None = None
        self._temp_dir: str | None = None
        self._data_dir: Path = Path()

    # --- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> SandboxGitLab:
        if self._state_dir is not None:
            self._data_dir = self._state_dir
        else:
            self._temp_dir = tempfile.mkdtemp(prefix="pc-release-sandbox-")
            self._data_dir = Path(self._temp_dir)
        self._data_dir.mkdir(parents=True, exist_ok=True)
        self._load_state()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), handler_for(self, Api(self)))
        self._httpd.daemon_threads = True
        httpd = self._httpd
        self._spawn("sandbox-gitlab-http", lambda: httpd.serve_forever(poll_interval=0.05))
        if self._run_jobs:
            self._runner = LocalPipelineRunner(
                self, self._origin.path, self._data_dir / "builds", hidden_values=(self._token,)
            )
            self._runner.start()
        if self._watch_branches:
            self._spawn("sandbox-gitlab-watch", self._watch)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            self._runner.stop()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)

    def __enter__(self) -> SandboxGitLab:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("SandboxGitLab is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def repository_url(self) -> str:
        """The project's repository over git's HTTP protocol: its `http_url_to_repo`."""
        return f"{self.url}/{self.project_path}.git"

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # --- persistence ---------------------------------------------------------------------------------

    def _load_state(self) -> None:
        state = load_state(self._state_dir)
        if state is None:
            return
        with self._lock:
            self._next_pipeline_id = state["next_pipeline_id"]
            self._next_job_id = state["next_job_id"]
            self._pipelines = {p["id"]: p for p in state["pipelines"]}
            self._jobs = {j["id"]: j for j in state["jobs"]}
            if self._run_jobs:
                # Their processes died with the previous server, as a runner crash would end them.
                orphaned = [job for job in self._jobs.values() if job["status"] == "running"]
                for job in orphaned:
                    set_job_status(job, "failed", "runner_system_failure")
                for pipeline_id in {job["pipeline_id"] for job in orphaned}:
                    self._process(self._pipelines[pipeline_id])
                self._save()

    def _save(self) -> None:
        state = {
            "next_pipeline_id": self._next_pipeline_id,
            "next_job_id": self._next_job_id,
            "pipelines": list(self._pipelines.values()),
            "jobs": list(self._jobs.values()),
        }
        save_state(self._state_dir, state)

    # --- Python control API --------------------------------------------------------------------------

    def create_pipeline(
        self,
        ref: str,
        sha: str | None = None,
        variables: dict[str, str] | None = None,
        source: str = "push",
    ) -> dict[str, Any]:
        """Create a pipeline like GitLab would for `ref` (at `sha`, default the ref's head)."""
        with self._lock:
            pipeline = self._create_pipeline(ref, sha, variables or {}, source, before_sha=NULL_SHA)
            return self.views.pipeline(pipeline, detailed=True, metadata=True)

    def set_job_status(self, pipeline_id: int, job_name: str, status: str) -> None:
        with self._lock:
            job = self._job_by_name(pipeline_id, job_name)
            set_job_status(job, checked_status(status))
            self._process(self._pipeline(pipeline_id))
            self._save()

    def set_all_jobs_status(self, pipeline_id: int, status: str) -> None:
        with self._lock:
            for job in self._latest_jobs(pipeline_id):
                set_job_status(job, checked_status(status))
            self._process(self._pipeline(pipeline_id))
            self._save()

    def set_pipeline_status(self, pipeline_id: int, status: str) -> None:
        """Force a pipeline status (e.g. `canceling`); the next job change re-derives it."""
        with self._lock:
            pipeline = self._pipeline(pipeline_id)
            self._set_pipeline_status(pipeline, checked_status(status))
            self._save()

    def set_job_artifact(self, pipeline_id: int, job_name: str, path: str, content: bytes) -> None:
        relative = safe_relative(path)
        if relative is None:
            raise ValueError(f"artifact path {path!r} escapes the job's artifacts")
        with self._lock:
            job = self._job_by_name(pipeline_id, job_name)
            target = self._artifacts_dir(job["id"]) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            job["artifacts"] = self._scan_artifacts(job["id"])
            self._touch(self._pipeline(pipeline_id))
            self._save()

    def append_job_trace(self, pipeline_id: int, job_name: str, text: str) -> None:
        """Write to the job's log, as its runner would (`GET /jobs/:id/trace` serves it)."""
        with self._lock:
            trace = self._trace_path(self._job_by_name(pipeline_id, job_name)["id"])
            trace.parent.mkdir(parents=True, exist_ok=True)
            with trace.open("a") as log:
                log.write(text)

    def set_master_ci(self, *, slow_seconds: float = 0.0, fail: bool = False) -> None:
        """From now on, jobs of master pipelines are held until `slow_seconds` after their pipeline was created,
        and fail when `fail`: they stay `running` meanwhile, as a slow CI's would."""
        if slow_seconds < 0:
            raise ValueError("slow_seconds must not be negative")
        with self._lock:
            self._master_ci = MasterCiPlan(slow_seconds, fail)

    def retry_job(self, pipeline_id: int, job_name: str) -> dict[str, Any]:
        with self._lock:
            job = self._retry(self._job_by_name(pipeline_id, job_name))
            self._save()
            return self.views.job(job)

    def pipelines(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self.views.pipeline(p, detailed=True, metadata=True) for p in self._pipelines.values()]

    def jobs(self, pipeline_id: int, include_retried: bool = False) -> list[dict[str, Any]]:
        """The pipeline's jobs in id order as GitLab lists them: each job's latest attempt, or every attempt."""
        with self._lock:
            self._pipeline(pipeline_id)
            jobs = self._jobs.values() if include_retried else self._latest_jobs(pipeline_id)
            return [self.views.job(j) for j in jobs if j["pipeline_id"] == pipeline_id and not j.get("trigger")]

    def bridges(self, pipeline_id: int) -> list[dict[str, Any]]:
        """The pipeline's trigger jobs in id order, with their downstream pipelines, as `/bridges` lists them."""
        with self._lock:
            self._pipeline(pipeline_id)
            return [self.views.bridge(j) for j in self._latest_jobs(pipeline_id) if j.get("trigger")]

    def set_faults(
        self,
        rate: float = 0.0,
        kinds: tuple[str, ...] = ("502", "503", "429", "slow"),
        seed: int | None = None,
        slow_seconds: float = 0.3,
        retry_after: int = 1,
    ) -> None:
        self.faults.configure(rate, kinds, seed, slow_seconds, retry_after)

    def fail_next(self, n: int, status: int = 502, retry_after: int | None = None) -> None:
        """The next `n` API requests fail with `status` (429 carries Retry-After)."""
        self.faults.fail_next(n, status, retry_after)

    @property
    def request_log(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._request_log)

    def reset_request_log(self) -> None:
        with self._lock:
            self._request_log.clear()

    # --- state internals (callers hold the lock) -----------------------------------------------------

    def _pipeline(self, pipeline_id: int) -> dict[str, Any]:
        pipeline = self._pipelines.get(int(pipeline_id))
        if pipeline is None:
            raise SandboxLookupError(f"no pipeline {pipeline_id}")
        return pipeline

    def _latest_jobs(self, pipeline_id: int) -> list[dict[str, Any]]:
        return [j for j in self._jobs.values() if j["pipeline_id"] == pipeline_id and not j["retried"]]

    def _job_by_name(self, pipeline_id: int, job_name: str) -> dict[str, Any]:
        self._pipeline(pipeline_id)
        for job in self._latest_jobs(pipeline_id):
            if job["name"] == job_name:
                return job
        raise SandboxLookupError(f"pipeline {pipeline_id} has no job {job_name!r}")

    def _predefined_variables(self, ref: str, sha: str, is_tag: bool, source: str) -> dict[str, str]:
        """The predefined variables rules can see when the pipeline is created."""
        variables = {
            "CI": "true",
            "GITLAB_CI": "true",
            "CI_COMMIT_SHA": sha,
            "CI_COMMIT_SHORT_SHA": sha[:8],
            "CI_COMMIT_REF_NAME": ref,
            "CI_COMMIT_REF_SLUG": "".join(c if c.isalnum() else "-" for c in ref.lower())[:63].strip("-"),
            "CI_PIPELINE_SOURCE": source,
            "CI_DEFAULT_BRANCH": DEFAULT_BRANCH,
            "CI_PROJECT_ID": str(self.project_id),
            "CI_PROJECT_PATH": self.project_path,
            "CI_PROJECT_NAME": self.project_path.rsplit("/", 1)[-1],
            "CI_PROJECT_NAMESPACE": self.project_path.rsplit("/", 1)[0],
        }
        variables["CI_COMMIT_TAG" if is_tag else "CI_COMMIT_BRANCH"] = ref
        return variables

    def _create_pipeline(
        self,
        ref: str,
        sha: str | None,
        variables: Mapping[str, str],
        source: str,
        before_sha: str,
        variable_types: Mapping[str, str] | None = None,
        includes: Any = None,
        upstream_bridge: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A pipeline from the `.gitlab-ci.yml` at `sha`, or, for a child pipeline, from its trigger's `includes`."""
        resolved = self._origin.resolve(ref)
        if resolved is None:
            raise PipelineCreationError("Reference not found")
        head, is_tag = resolved
        if sha is not None:
            full = self._origin.resolve_commit(sha)
            if full is None:
                raise PipelineCreationError("Commit not found")
            head = full
        scope = {**self._predefined_variables(ref, head, is_tag, source), **variables}
        try:
            config = self._ci_config(head, includes)
            if not config.workflow_allows(scope):
                raise PipelineCreationError("Pipeline filtered out by workflow rules.")
            jobs = config.jobs_for(scope)
        except CiConfigError as err:
            raise PipelineCreationError(str(err)) from err
        if not jobs:
            raise PipelineCreationError("No stages / jobs for this pipeline.")
        now = time.time()
        pipeline = self._register_pipeline(
            ref=ref,
            sha=head,
            before_sha=before_sha,
            tag=is_tag,
            source=source,
            status="created",
            now=now,
            variables=[
                {"key": k, "value": v, "variable_type": (variable_types or {}).get(k, "env_var")}
                for k, v in variables.items()
            ],
            upstream_bridge_id=upstream_bridge["id"] if upstream_bridge else None,
        )
        for job in jobs:
            self._add_job(pipeline, job, config.stages.index(job.stage), now)
        self._process(pipeline)
        self._save()
        return pipeline

    def _ci_config(self, sha: str, includes: Any) -> CiConfig:
        """The configuration GitLab would merge at `sha` (see pc_release.sandbox.ci_lint)."""
        if includes is None:
            return ci_lint.ci_config(self._origin, self.project_path, sha, self._origin.read_file(sha, CI_FILE))
        # A child pipeline's configuration is its trigger's `include:`, read from the parent's SHA.
        document = json.dumps({"include": includes})  # JSON is YAML
        return ci_lint.ci_config(self._origin, self.project_path, sha, document, "trigger:include")

    def _add_job(self, pipeline: dict[str, Any], job: CiJob, stage_index: int, now: float) -> None:
        record = {
            "id": self._next_job_id,
            "pipeline_id": pipeline["id"],
            "name": job.name,
            "stage": job.stage,
            "stage_idx": stage_index,
            "status": "created",
            "when": job.when,
            "allow_failure": job.allow_failure,
            "allow_failure_exit_codes": list(job.allow_failure_exit_codes),
            "needs": None if job.needs is None else list(job.needs),
            "dependencies": None if job.dependencies is None else list(job.dependencies),
            "created_at": now,
            "queued_at": None,
            "started_at": None,
            "finished_at": None,
            "failure_reason": None,
            "retried": False,
            "artifacts": {},
            "dotenv": {},
            "trigger": pipeline_state.trigger_spec(job.raw),
            "downstream_pipeline_id": None,
            "spec": {
                "script": list(job.script),
                "before_script": list(job.before_script),
                "after_script": list(job.after_script),
                "variables": dict(job.variables),
                "artifact_paths": list(job.artifact_paths),
                "artifacts_when": job.artifacts_when,
                "dotenv_reports": list(job.dotenv_reports),
                "timeout_seconds": job.timeout_seconds,
            },
        }
        self._next_job_id += 1
        self._jobs[record["id"]] = record

    def _process(self, pipeline: dict[str, Any]) -> None:
        """GitLab's processing: run what may run, start the downstream pipeline of every trigger job that is due,
        and pass a finished child's status up to a trigger job that depends on it."""
        jobs = self._latest_jobs(pipeline["id"])
        pipeline_state.process(pipeline, jobs)
        due = [j for j in jobs if j.get("trigger") and j["status"] == "pending"]
        while due:
            for bridge in due:
                self._start_downstream(pipeline, bridge)
            pipeline_state.process(pipeline, jobs)
            due = [j for j in jobs if j.get("trigger") and j["status"] == "pending"]
        bridge = self._jobs.get(pipeline.get("upstream_bridge_id") or 0)
        if bridge is not None and not bridge["retried"] and bridge["status"] == "running":
            inherited = pipeline_state.inherited_bridge_status(pipeline["status"])
            if inherited is not None:
                set_job_status(bridge, inherited, "unknown_failure" if inherited == "failed" else None)
                self._process(self._pipelines[bridge["pipeline_id"]])

    # --- downstream pipelines (trigger jobs) ---------------------------------------------------------

    def _depth(self, pipeline: Mapping[str, Any]) -> int:
        """How many upstream pipelines this one has."""
        bridge = self._jobs.get(pipeline.get("upstream_bridge_id") or 0)
        return 0 if bridge is None else 1 + self._depth(self._pipelines[bridge["pipeline_id"]])

    def _start_downstream(self, pipeline: dict[str, Any], bridge: dict[str, Any]) -> None:
        """Create a trigger job's downstream pipeline, as GitLab's CreateDownstreamPipelineService does.

        `trigger: include:` makes a child pipeline of this project (source `parent_pipeline`, same ref and SHA).
        The sandbox hosts one project, so a `trigger: project:` fails as GitLab fails one it cannot find.
        Without `strategy: depend` the trigger job succeeds once the downstream pipeline exists; with it, the job
        runs until the downstream pipeline finishes and then takes its status.
        """
        trigger = bridge["trigger"]
        if trigger["include"] is None:
            set_job_status(bridge, "failed", "downstream_bridge_project_not_found")
            return
        if self._depth(pipeline) >= pipeline_state.MAX_DESCENDANTS_DEPTH:
            set_job_status(bridge, "failed", "reached_max_descendant_pipelines_depth")
            return
        variables = dict(bridge["spec"]["variables"])
        if trigger["forward_pipeline_variables"]:
            variables |= {v["key"]: v["value"] for v in pipeline["variables"]}
        try:
            child = self._create_pipeline(
                pipeline["ref"],
                pipeline["sha"],
                variables,
                "parent_pipeline",
                pipeline["before_sha"],
                includes=trigger["include"],
                upstream_bridge=bridge,
            )
        except PipelineCreationError:
            set_job_status(bridge, "failed", "downstream_pipeline_creation_failed")
            return
        bridge["downstream_pipeline_id"] = child["id"]
        if trigger["strategy"] != "depend":
            set_job_status(bridge, "success")
            return
        set_job_status(bridge, "running")
        inherited = pipeline_state.inherited_bridge_status(child["status"])
        if inherited is not None:
            set_job_status(bridge, inherited, "unknown_failure" if inherited == "failed" else None)

    def _set_pipeline_status(self, pipeline: dict[str, Any], status: str) -> None:
        pipeline_state.set_pipeline_status(pipeline, status, self._latest_jobs(pipeline["id"]))

    def _touch(self, pipeline: dict[str, Any]) -> None:
        pipeline["updated_at"] = time.time()

    def _retry(self, job: dict[str, Any]) -> dict[str, Any]:
        if job["status"] not in RETRYABLE_STATUSES or job["retried"]:
            raise PermissionError("Job is not retryable")
        pipeline = self._pipeline(job["pipeline_id"])
        job["retried"] = True
        clone = {
            **json.loads(json.dumps(job)),
            "id": self._next_job_id,
            "retried": False,
            "artifacts": {},
            "dotenv": {},
            "downstream_pipeline_id": None,
            "created_at": time.time(),
        }
        self._next_job_id += 1
        set_job_status(clone, "created")
        self._jobs[clone["id"]] = clone
        # GitLab resets the jobs a failure had skipped, so they run again once the retried job passes.
        for later in self._latest_jobs(pipeline["id"]):
            downstream = later["stage_idx"] > job["stage_idx"] or job["name"] in (later["needs"] or [])
            if downstream and later["status"] == "skipped":
                set_job_status(later, "created")
        self._process(pipeline)
        return clone

    def _cancel(self, pipeline: dict[str, Any]) -> None:
        """Cancel the pipeline's unfinished jobs, and its downstream pipelines with them, as GitLab does."""
        for job in self._latest_jobs(pipeline["id"]):
            downstream = self._pipelines.get(job.get("downstream_pipeline_id") or 0)
            if downstream is not None and downstream["status"] not in COMPLETED_STATUSES:
                self._cancel(downstream)
            if job["status"] in CANCELABLE_STATUSES:
                set_job_status(job, "canceled")
        self._process(pipeline)
        self._save()

    def _artifacts_dir(self, job_id: int) -> Path:
        return self._data_dir / "artifacts" / str(job_id)

    def _trace_path(self, job_id: int) -> Path:
        return self._data_dir / "traces" / f"{job_id}.log"

    def _scan_artifacts(self, job_id: int) -> dict[str, int]:
        root = self._artifacts_dir(job_id)
        if not root.is_dir():
            return {}
        return {
            path.relative_to(root).as_posix(): path.stat().st_size for path in sorted(root.rglob("*")) if path.is_file()
        }

    # --- runner host ---------------------------------------------------------------------------------

    def claim_job(self) -> JobAssignment | None:
        with self._lock:
            job = next(
                (
                    j
                    for j in self._jobs.values()
                    if j["status"] == "pending" and not j["retried"] and not j.get("trigger")
                ),
                None,
            )
            if job is None:
                return None
            pipeline = self._pipeline(job["pipeline_id"])
            set_job_status(job, "running")
            self._process(pipeline)
            self._save()
            # A fresh per-job token, as GitLab issues; it is never the admin token and grants nothing here.
            token = secrets.token_hex(16)
            spec = job["spec"]
            held = self._master_ci.script_prefix(pipeline["created_at"]) if pipeline["ref"] == DEFAULT_BRANCH else ()
            return JobAssignment(
                job_id=job["id"],
                job_name=job["name"],
                sha=pipeline["sha"],
                script=tuple(spec["script"]),
                before_script=(*held, *spec["before_script"]),
                after_script=tuple(spec["after_script"]),
                variables=self._job_variables(pipeline, job, token),
                artifact_paths=tuple(spec["artifact_paths"]),
                artifacts_when=spec["artifacts_when"],
                dotenv_reports=tuple(spec["dotenv_reports"]),
                timeout_seconds=spec["timeout_seconds"],
                trace_path=self._trace_path(job["id"]),
                artifacts_dir=self._artifacts_dir(job["id"]),
            )

    def _job_variables(self, pipeline: Mapping[str, Any], job: Mapping[str, Any], token: str) -> dict[str, str]:
        """Predefined < job YAML < inherited dotenv < pipeline variables: GitLab's precedence order."""
        base = self.url
        commit = self._origin.commit(pipeline["sha"])
        predefined = {
            **self._predefined_variables(pipeline["ref"], pipeline["sha"], pipeline["tag"], pipeline["source"]),
            "CI_SERVER": "yes",
            "CI_COMMIT_BEFORE_SHA": pipeline["before_sha"],
            "CI_COMMIT_TITLE": commit["title"],
            "CI_COMMIT_MESSAGE": commit["message"],
            "CI_COMMIT_AUTHOR": f"{commit['author_name']} <{commit['author_email']}>",
            "CI_COMMIT_TIMESTAMP": commit["committed_date"],
            "CI_COMMIT_REF_PROTECTED": "true" if pipeline["ref"] == DEFAULT_BRANCH else "false",
            "CI_PIPELINE_ID": str(pipeline["id"]),
            "CI_PIPELINE_IID": str(pipeline["iid"]),
            "CI_PIPELINE_URL": f"{base}/{self.project_path}/-/pipelines/{pipeline['id']}",
            "CI_JOB_ID": str(job["id"]),
            "CI_JOB_NAME": job["name"],
            "CI_JOB_STAGE": job["stage"],
            "CI_JOB_URL": f"{base}/{self.project_path}/-/jobs/{job['id']}",
            "CI_JOB_TOKEN": token,
            "CI_NODE_TOTAL": "1",
            "CI_PROJECT_URL": f"{base}/{self.project_path}",
            "CI_REPOSITORY_URL": str(self._origin.path),
            "CI_SERVER_URL": base,
            "CI_SERVER_HOST": "127.0.0.1",
            "CI_SERVER_PORT": base.rsplit(":", 1)[1],
            "CI_SERVER_PROTOCOL": "http",
            "CI_API_V4_URL": f"{base}/api/v4",
            "GITLAB_USER_LOGIN": "pc-release",
        }
        return {
            **predefined,
            **job["spec"]["variables"],
            **self._inherited_dotenv(job),
            **{v["key"]: v["value"] for v in pipeline["variables"]},
        }

    def _inherited_dotenv(self, job: Mapping[str, Any]) -> dict[str, str]:
        jobs = self._latest_jobs(job["pipeline_id"])
        if job["dependencies"] is not None:
            sources = [j for j in jobs if j["name"] in job["dependencies"]]
        else:
            sources = [j for j in jobs if j["stage_idx"] < job["stage_idx"]]
        merged: dict[str, str] = {}
        for source in sorted(sources, key=lambda j: (j["stage_idx"], j["id"])):
            merged.update(source["dotenv"])
        return merged

    def finish_job(self, job_id: int, result: JobResult) -> None:
        with self._lock:
            job = self._jobs[job_id]
            if job["status"] != "running":
                return
            if result.exit_code is not None and result.exit_code in job["allow_failure_exit_codes"]:
                job["allow_failure"] = True
            job["dotenv"] = dict(result.dotenv)
            job["artifacts"] = self._scan_artifacts(job_id)
            set_job_status(job, result.status, result.failure_reason)
            self._process(self._pipeline(job["pipeline_id"]))
            self._save()

    def job_aborted(self, job_id: int) -> bool:
        with self._lock:
            return self._stopping.is_set() or self._jobs[job_id]["status"] != "running"

    # --- branch watcher ------------------------------------------------------------------------------

    def _watch(self) -> None:
        """Start a push pipeline for every watched-branch head that has none yet, as GitLab does on push."""
        last_seen: dict[str, str] = {}
        while not self._stopping.is_set():
            heads = self._origin.branches()
            for branch in self._watch_branches:
                sha = heads.get(branch)
                if sha is None or last_seen.get(branch) == sha:
                    continue
                with self._lock:
                    exists = any(p["ref"] == branch and p["sha"] == sha for p in self._pipelines.values())
                    if not exists:
                        self._start_push_pipeline(branch, sha, last_seen.get(branch, NULL_SHA))
                last_seen[branch] = sha
            self._stopping.wait(WATCH_INTERVAL_SECONDS)

    def _start_push_pipeline(self, branch: str, sha: str, before_sha: str) -> None:
        try:
            self._create_pipeline(branch, sha, {}, "push", before_sha=before_sha)
        except PipelineCreationError as err:
            message = str(err)
            # GitLab creates no pipeline for a push without CI jobs, but shows config errors as failed ones.
            if ci_lint.NO_CONTENT in message or "No stages / jobs" in message or "filtered out" in message:
                return
            now = time.time()
            self._register_pipeline(
                ref=branch,
                sha=sha,
                before_sha=before_sha,
                tag=False,
                source="push",
                status="failed",
                now=now,
                finished_at=now,
                yaml_errors=message,
            )
            self._save()

    def _register_pipeline(
        self,
        *,
        ref: str,
        sha: str,
        before_sha: str,
        tag: bool,
        source: str,
        status: str,
        now: float,
        variables: list[dict[str, str]] | None = None,
        finished_at: float | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """A new pipeline under the next id: one that runs jobs, or one GitLab shows failed at once for its
        configuration errors (`extra`: `upstream_bridge_id` of a child, `yaml_errors` of a broken config)."""
        pipeline = {
            "id": self._next_pipeline_id,
            "iid": self._next_pipeline_id,
            "sha": sha,
            "before_sha": before_sha,
            "ref": ref,
            "tag": tag,
            "status": status,
            "source": source,
            "created_at": now,
            "updated_at": now,
            "started_at": None,
            "finished_at": finished_at,
            "variables": variables or [],
            **extra,
        }
        self._next_pipeline_id += 1
        self._pipelines[pipeline["id"]] = pipeline
        return pipeline

    # --- HTTP -------------------------------------------------------------------------------------------

    def log_request(self, method: str, path: str) -> None:
        with self._lock:
            self._request_log.append((method, path))

    def _matches_project(self, segment: str) -> bool:
        return segment in (str(self.project_id), self.project_path)
