"""A GitLab REST v4-compatible server over a local bare repository, so pc-release runs offline unchanged.

python-gitlab talks to it over real HTTP. It serves the project, branch, commit, pipeline and job endpoints
pc-release uses, creates jobs from the `.gitlab-ci.yml` at the pipeline SHA, moves them through stages the
way GitLab's pipeline processing does, and (with `run_jobs=True`) runs them with `LocalPipelineRunner`.
Tests drive job statuses directly and inject faults (5xx, 429, slow answers) to exercise client retries.

Control API for other processes (same token), under `/-/sandbox/`:
  POST pipelines      {"ref", "sha"?, "variables"?: {KEY: VALUE}, "source"?}  -> pipeline JSON
  POST jobs/status    {"pipeline_id", "job_name", "status"}
  POST pipelines/status {"pipeline_id", "status"}
  POST faults         {"rate", "kinds", "seed", "slow_seconds", "retry_after"}
  POST faults/next    {"n", "status", "retry_after"}
  GET  requests       -> [[method, path], ...] ;  POST requests/reset
  POST master-ci      {"slow_seconds"?, "fail"?}: hold or fail the jobs of master pipelines (with run_jobs)

Pipeline and job pages (`web_url`) are served by `pages` to a signed-in browser session.
"""

from __future__ import annotations

import contextlib
import hmac
import io
import json
import random
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from pc_release.gitlab_ci import CiConfigError, CiJob, load_ci_config
from pc_release.sandbox import git_http, pages
from pc_release.sandbox.runner import JobAssignment, JobResult, LocalPipelineRunner

STATUSES = (
    "created",
    "waiting_for_resource",
    "preparing",
    "pending",
    "running",
    "success",
    "failed",
    "canceling",
    "canceled",
    "skipped",
    "manual",
    "scheduled",
    "waiting_for_callback",
)
COMPLETED_STATUSES = frozenset({"success", "failed", "canceled", "skipped"})
CANCELABLE_STATUSES = frozenset(
    {"running", "waiting_for_resource", "preparing", "pending", "created", "scheduled", "waiting_for_callback"}
)
RETRYABLE_STATUSES = frozenset({"success", "failed", "canceled"})
DEFAULT_BRANCH = "master"
NULL_SHA = "0" * 40
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's empty tree: what a root commit is diffed against
WATCH_INTERVAL_SECONDS = 0.3
FAULT_KINDS = ("500", "502", "503", "504", "429", "slow")

_DETAILED_STATUS = {
    "created": ("created", "created", "status_created"),
    "waiting_for_resource": ("waiting", "waiting for resource", "status_pending"),
    "preparing": ("preparing", "preparing", "status_preparing"),
    "pending": ("pending", "pending", "status_pending"),
    "running": ("running", "running", "status_running"),
    "success": ("passed", "passed", "status_success"),
    "failed": ("failed", "failed", "status_failed"),
    "canceling": ("canceling", "canceling", "status_canceled"),
    "canceled": ("canceled", "canceled", "status_canceled"),
    "skipped": ("skipped", "skipped", "status_skipped"),
    "manual": ("manual", "manual action", "status_manual"),
    "scheduled": ("scheduled", "delayed", "status_scheduled"),
    "waiting_for_callback": ("waiting", "waiting for callback", "status_pending"),
}
_FAULT_MESSAGES = {
    500: "500 Internal Server Error",
    502: "502 Bad Gateway",
    503: "503 Service Unavailable",
    504: "504 Gateway Timeout",
}


# GitLab's access levels (Members API).
REPORTER, DEVELOPER, MAINTAINER = 20, 30, 40


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


class PipelineCreationError(ValueError):
    """GitLab refused to create the pipeline (unknown ref, CI config error, no jobs)."""


class SandboxLookupError(LookupError):
    """An unknown pipeline, job or ref was named through the Python API."""


def composite_status(jobs: Iterable[Mapping[str, Any]]) -> str | None:
    """GitLab's Ci::Status::Composite: the status of a group of jobs (a stage, a pipeline, a job's needs).

    Allowed failures count as passed with warnings; optional manual jobs are ignored.
    """
    keys: set[str] = set()
    for job in jobs:
        status = job["status"]
        if job["allow_failure"] and status in ("failed", "canceled"):
            keys.add("success_with_warnings")
        elif job["allow_failure"] and status == "manual":
            keys.add("ignored")
        else:
            keys.add(status)
    if not keys:
        return None

    def only(*allowed: str) -> bool:
        return keys <= set(allowed)

    def some(*wanted: str) -> bool:
        return bool(keys & set(wanted))

    cascade: list[tuple[bool, str]] = [
        (only("skipped", "ignored"), "skipped"),
        (only("success", "skipped", "success_with_warnings", "ignored"), "success"),
        (only("created", "success_with_warnings", "ignored"), "created"),
        (only("preparing", "success_with_warnings", "ignored"), "preparing"),
        (only("canceled", "success", "skipped", "success_with_warnings", "ignored"), "canceled"),
        (only("pending", "created", "skipped", "success_with_warnings", "ignored"), "pending"),
        (some("running", "pending"), "running"),
        (some("waiting_for_callback"), "waiting_for_callback"),
        (some("waiting_for_resource"), "waiting_for_resource"),
        (some("manual"), "manual"),
        (some("scheduled"), "scheduled"),
        (some("preparing"), "preparing"),
        (some("created"), "running"),
        (some("canceling"), "canceling"),
    ]
    return next((status for matched, status in cascade if matched), "failed")


def _millis(timestamp: float) -> int:
    """GitLab's timestamps have millisecond precision; filters compare at that precision too."""
    return round(timestamp * 1000)


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    millis = _millis(timestamp)
    moment = datetime.fromtimestamp(millis // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


def _parse_millis(text: str) -> int:
    return _millis(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _safe_relative(path: str) -> str | None:
    """A normalised artifact path inside the job's artifacts, or None for anything escaping it."""
    parts = [part for part in PurePosixPath(path).parts if part not in ("", ".", "/")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


class _Origin:
    """Read-only access to the bare origin repository through `git`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._commits: dict[str, dict[str, Any]] = {}

    def git(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", f"--git-dir={self.path}", *args], capture_output=True, text=True, check=False)

    def resolve(self, ref: str) -> tuple[str, bool] | None:
        """(sha, is_tag) for a branch or tag name, as GitLab resolves a pipeline `ref`."""
        for prefix, is_tag in (("refs/heads/", False), ("refs/tags/", True)):
            result = self.git("rev-parse", "--verify", "--quiet", f"{prefix}{ref}^{{commit}}")
            if result.returncode == 0:
                return result.stdout.strip(), is_tag
        return None

    def resolve_commit(self, ref_or_sha: str) -> str | None:
        result = self.git("rev-parse", "--verify", "--quiet", f"{ref_or_sha}^{{commit}}")
        return result.stdout.strip() if result.returncode == 0 else None

    def branches(self) -> dict[str, str]:
        result = self.git("for-each-ref", "--format=%(refname:lstrip=2) %(objectname)", "refs/heads/")
        return dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)

    def read_file(self, sha: str, path: str) -> str | None:
        result = self.git("show", f"{sha}:{path}")
        return result.stdout if result.returncode == 0 else None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return self.git("merge-base", "--is-ancestor", ancestor, descendant).returncode == 0

    def stats(self, sha: str) -> dict[str, int]:
        """GitLab's CommitStats: lines added and deleted against the first parent; binary files count 0."""
        parent = self.git("rev-parse", "--verify", "--quiet", f"{sha}^1").stdout.strip() or EMPTY_TREE
        additions = deletions = 0
        for line in self.git("diff", "--numstat", "--no-renames", parent, sha).stdout.splitlines():
            added, deleted, _ = line.split("\t", 2)
            additions += int(added) if added.isdigit() else 0
            deletions += int(deleted) if deleted.isdigit() else 0
        return {"additions": additions, "deletions": deletions, "total": additions + deletions}

    def commit(self, sha: str) -> dict[str, Any]:
        """Commit fields as GitLab names them; commits are immutable, so they are cached by SHA."""
        if sha not in self._commits:
            fields = "%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B"
            result = self.git("log", "-1", f"--format={fields}", sha)
            if result.returncode != 0:
                raise SandboxLookupError(f"unknown commit {sha}")
            full, parents, an, ae, ad, cn, ce, cd, message = result.stdout.split("\x00", 8)
            message = message.rstrip("\n") + "\n"
            self._commits[sha] = {
                "id": full,
                "short_id": full[:8],
                "created_at": cd,
                "parent_ids": parents.split(),
                "title": message.splitlines()[0] if message.strip() else "",
                "message": message,
                "author_name": an,
                "author_email": ae,
                "authored_date": ad,
                "committer_name": cn,
                "committer_email": ce,
                "committed_date": cd,
                "trailers": {},
                "extended_trailers": {},
            }
        return dict(self._commits[sha])


@dataclass
class _FaultPlan:
    rate: float = 0.0
    kinds: tuple[str, ...] = ("502", "503", "429", "slow")
    slow_seconds: float = 0.3
    retry_after: int = 1
    rng: random.Random = field(default_factory=random.Random)


@dataclass
class _MasterCiPlan:
    """A master pipeline slowed (its jobs run no earlier to an end than `slow_seconds` after it was created) or
    failed (its jobs exit 1): how a demo shows a promotion launched before master CI is green."""

    slow_seconds: float = 0.0
    fail: bool = False

    def script_prefix(self, created_at: float) -> tuple[str, ...]:
        lines = []
        hold = created_at + self.slow_seconds - time.time()
        if hold > 0:
            lines.append(f'echo "sandbox GitLab (slow master CI): holding this job {hold:.0f}s"; sleep {hold:.1f}')
        if self.fail:
            lines.append('echo "sandbox GitLab (fail master CI): failing this job"; exit 1')
        return tuple(lines)


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
        self._origin = _Origin(origin)
        self._token = token
        # Tokens of a Reporter: they may read the project and its pipelines but not run pipelines (403).
        self._reporter_tokens = tuple(t for t in reporter_tokens if t)
        # Tokens of a Developer: they run pipelines, except on a protected branch they may not push or merge to.
        self._developer_tokens = tuple(t for t in developer_tokens if t)
        # Branch -> (push, merge) access level, as GitLab's protected branches hold them (0: no one). GitLab
        # protects the default branch for Maintainers unless told otherwise.
        self._protected = dict(
            {DEFAULT_BRANCH: (MAINTAINER, MAINTAINER)} if protected_branches is None else protected_branches
        )
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
        self._faults = _FaultPlan()
        self._master_ci = _MasterCiPlan(slow_master_ci_seconds, fail_master_ci)
        self._fail_next: list[tuple[int, int | None]] = []
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
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), _handler_for(self))
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
        if self._state_dir is None or not (self._state_dir / "state.json").exists():
            return
        state = json.loads((self._state_dir / "state.json").read_text())
        with self._lock:
            self._next_pipeline_id = state["next_pipeline_id"]
            self._next_job_id = state["next_job_id"]
            self._pipelines = {p["id"]: p for p in state["pipelines"]}
            self._jobs = {j["id"]: j for j in state["jobs"]}
            if self._run_jobs:
                # Their processes died with the previous server, as a runner crash would end them.
                orphaned = [job for job in self._jobs.values() if job["status"] == "running"]
                for job in orphaned:
                    self._set_job_status(job, "failed", "runner_system_failure")
                for pipeline_id in {job["pipeline_id"] for job in orphaned}:
                    self._process(self._pipelines[pipeline_id])
                self._save()

    def _save(self) -> None:
        if self._state_dir is None:
            return
        state = {
            "next_pipeline_id": self._next_pipeline_id,
            "next_job_id": self._next_job_id,
            "pipelines": list(self._pipelines.values()),
            "jobs": list(self._jobs.values()),
        }
        target = self._state_dir / "state.json"
        temporary = target.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(state, indent=1))
        temporary.replace(target)

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
            return self._pipeline_json(pipeline, detailed=True, metadata=True)

    def set_job_status(self, pipeline_id: int, job_name: str, status: str) -> None:
        with self._lock:
            job = self._job_by_name(pipeline_id, job_name)
            self._set_job_status(job, _checked_status(status))
            self._process(self._pipeline(pipeline_id))
            self._save()

    def set_all_jobs_status(self, pipeline_id: int, status: str) -> None:
        with self._lock:
            for job in self._latest_jobs(pipeline_id):
                self._set_job_status(job, _checked_status(status))
            self._process(self._pipeline(pipeline_id))
            self._save()

    def set_pipeline_status(self, pipeline_id: int, status: str) -> None:
        """Force a pipeline status (e.g. `canceling`); the next job change re-derives it."""
        with self._lock:
            pipeline = self._pipeline(pipeline_id)
            self._set_pipeline_status(pipeline, _checked_status(status))
            self._save()

    def set_job_artifact(self, pipeline_id: int, job_name: str, path: str, content: bytes) -> None:
        relative = _safe_relative(path)
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
            self._master_ci = _MasterCiPlan(slow_seconds, fail)

    def retry_job(self, pipeline_id: int, job_name: str) -> dict[str, Any]:
        with self._lock:
            job = self._retry(self._job_by_name(pipeline_id, job_name))
            self._save()
            return self._job_json(job)

    def pipelines(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._pipeline_json(p, detailed=True, metadata=True) for p in self._pipelines.values()]

    def jobs(self, pipeline_id: int, include_retried: bool = False) -> list[dict[str, Any]]:
        """The pipeline's jobs in id order as GitLab lists them: each job's latest attempt, or every attempt."""
        with self._lock:
            self._pipeline(pipeline_id)
            jobs = self._jobs.values() if include_retried else self._latest_jobs(pipeline_id)
            return [self._job_json(j) for j in jobs if j["pipeline_id"] == pipeline_id]

    def set_faults(
        self,
        rate: float = 0.0,
        kinds: tuple[str, ...] = ("502", "503", "429", "slow"),
        seed: int | None = None,
        slow_seconds: float = 0.3,
        retry_after: int = 1,
    ) -> None:
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown or not 0.0 <= rate <= 1.0:
            raise ValueError(f"faults: rate must be within [0, 1] and kinds within {FAULT_KINDS}")
        with self._lock:
            self._faults = _FaultPlan(rate, tuple(kinds), slow_seconds, retry_after, random.Random(seed))

    def fail_next(self, n: int, status: int = 502, retry_after: int | None = None) -> None:
        """The next `n` API requests fail with `status` (429 carries Retry-After)."""
        if status < 400 or status not in {member.value for member in HTTPStatus}:
            raise ValueError(f"fail_next: {status} is not an HTTP error status")
        with self._lock:
            self._fail_next.extend([(status, retry_after)] * n)

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
    ) -> dict[str, Any]:
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
            config = load_ci_config(lambda path: self._origin.read_file(head, path))
            if not config.workflow_allows(scope):
                raise PipelineCreationError("Pipeline filtered out by workflow rules.")
            jobs = config.jobs_for(scope)
        except CiConfigError as err:
            raise PipelineCreationError(str(err)) from err
        if not jobs:
            raise PipelineCreationError("No stages / jobs for this pipeline.")
        now = time.time()
        pipeline = {
            "id": self._next_pipeline_id,
            "iid": self._next_pipeline_id,
            "sha": head,
            "before_sha": before_sha,
            "ref": ref,
            "tag": is_tag,
            "status": "created",
            "source": source,
            "created_at": now,
            "updated_at": now,
            "started_at": None,
            "finished_at": None,
            "variables": [
                {"key": k, "value": v, "variable_type": (variable_types or {}).get(k, "env_var")}
                for k, v in variables.items()
            ],
        }
        self._next_pipeline_id += 1
        self._pipelines[pipeline["id"]] = pipeline
        for job in jobs:
            self._add_job(pipeline, job, config.stages.index(job.stage), now)
        self._process(pipeline)
        self._save()
        return pipeline

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

    def _set_job_status(self, job: dict[str, Any], status: str, failure_reason: str | None = None) -> None:
        now = time.time()
        job["status"] = status
        if status in ("created", "pending", "manual", "scheduled"):
            job["started_at"] = job["finished_at"] = None
            job["queued_at"] = now if status == "pending" else None
        elif status == "running":
            job["started_at"] = now
            job["finished_at"] = None
        elif status in COMPLETED_STATUSES:
            job["finished_at"] = now
            if status in ("success", "failed") and job["started_at"] is None:
                job["started_at"] = now
        job["failure_reason"] = (failure_reason or "script_failure") if status == "failed" else None

    def _next_status(self, job: Mapping[str, Any], jobs: list[dict[str, Any]]) -> str | None:
        """GitLab's atomic processing for one `created` job: wait, enqueue, or skip."""
        dag = job["needs"] is not None
        if dag:
            prior = [j for j in jobs if j["name"] in job["needs"]]
        else:
            prior = [j for j in jobs if j["stage_idx"] < job["stage_idx"]]
        state = composite_status(prior) or "success"
        if state not in COMPLETED_STATUSES:
            return None
        if dag and any(j["status"] == "skipped" for j in prior):
            state = "skipped"
        when = job["when"]
        if when in ("on_success", "manual"):
            passed = state == "success" or (state == "skipped" and not dag)
            if not passed:
                return "skipped"
            return "manual" if when == "manual" else "pending"
        if when == "on_failure":
            return "pending" if state == "failed" else "skipped"
        if when == "always":
            return "pending" if state != "canceled" else "skipped"
        return "skipped"

    def _process(self, pipeline: dict[str, Any]) -> None:
        jobs = self._latest_jobs(pipeline["id"])
        progressed = True
        while progressed:
            progressed = False
            for job in jobs:
                if job["status"] == "created":
                    status = self._next_status(job, jobs)
                    if status is not None:
                        self._set_job_status(job, status)
                        progressed = True
        self._set_pipeline_status(pipeline, composite_status(jobs) or "skipped")

    def _set_pipeline_status(self, pipeline: dict[str, Any], status: str) -> None:
        now = time.time()
        if status != pipeline["status"]:
            pipeline["status"] = status
            pipeline["updated_at"] = now
        started = [j["started_at"] for j in self._latest_jobs(pipeline["id"]) if j["started_at"]]
        pipeline["started_at"] = min(started) if started else None
        if status in COMPLETED_STATUSES:
            pipeline["finished_at"] = pipeline["finished_at"] or now
        else:
            pipeline["finished_at"] = None

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
            "created_at": time.time(),
        }
        self._next_job_id += 1
        self._set_job_status(clone, "created")
        self._jobs[clone["id"]] = clone
        # GitLab resets the jobs a failure had skipped, so they run again once the retried job passes.
        for later in self._latest_jobs(pipeline["id"]):
            downstream = later["stage_idx"] > job["stage_idx"] or job["name"] in (later["needs"] or [])
            if downstream and later["status"] == "skipped":
                self._set_job_status(later, "created")
        self._process(pipeline)
        return clone

    def _cancel(self, pipeline: dict[str, Any]) -> None:
        for job in self._latest_jobs(pipeline["id"]):
            if job["status"] in CANCELABLE_STATUSES:
                self._set_job_status(job, "canceled")
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
            job = next((j for j in self._jobs.values() if j["status"] == "pending" and not j["retried"]), None)
            if job is None:
                return None
            pipeline = self._pipeline(job["pipeline_id"])
            self._set_job_status(job, "running")
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
            self._set_job_status(job, result.status, result.failure_reason)
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
            if "Missing CI config file" in message or "No stages / jobs" in message or "filtered out" in message:
                return
            now = time.time()
            pipeline = {
                "id": self._next_pipeline_id,
                "iid": self._next_pipeline_id,
                "sha": sha,
                "before_sha": before_sha,
                "ref": branch,
                "tag": False,
                "status": "failed",
                "source": "push",
                "created_at": now,
                "updated_at": now,
                "started_at": None,
                "finished_at": now,
                "variables": [],
                "yaml_errors": message,
            }
            self._next_pipeline_id += 1
            self._pipelines[pipeline["id"]] = pipeline
            self._save()

    # --- JSON views ----------------------------------------------------------------------------------

    def _user(self) -> dict[str, Any]:
        """GitLab's UserBasic, as pipelines carry their user."""
        return {
            "id": 1,
            "username": "pc-release",
            "name": "pc-release sandbox",
            "state": "active",
            "avatar_url": None,
            "web_url": f"{self.url}/pc-release",
        }

    def _job_user(self) -> dict[str, Any]:
        """GitLab's User entity, as jobs carry their user: UserBasic plus the profile fields."""
        profile = dict.fromkeys(("public_email", "skype", "linkedin", "twitter", "website_url", "organization"), "")
        return {**self._user(), "created_at": _iso(0), "bio": None, "location": None, **profile}

    def _project_json(self) -> dict[str, Any]:
        base = self.url
        name = self.project_path.rsplit("/", 1)[-1]
        namespace = self.project_path.rsplit("/", 1)[0]
        return {
            "id": self.project_id,
            "description": "platform-control (pc-release sandbox)",
            "name": name,
            "name_with_namespace": " / ".join(self.project_path.split("/")),
            "path": name,
            "path_with_namespace": self.project_path,
            "created_at": _iso(0),
            "default_branch": DEFAULT_BRANCH,
            "tag_list": [],
            "topics": [],
            "ssh_url_to_repo": f"git@127.0.0.1:{self.project_path}.git",
            "http_url_to_repo": self.repository_url,
            "web_url": f"{base}/{self.project_path}",
            "readme_url": None,
            "visibility": "private",
            "archived": False,
            "empty_repo": not self._origin.branches(),
            "namespace": {
                "id": 1,
                "name": namespace,
                "path": namespace,
                "kind": "group",
                "full_path": namespace,
                "web_url": f"{base}/groups/{namespace}",
            },
            "jobs_enabled": True,
            "builds_access_level": "enabled",
        }

    def _commit_json(self, sha: str, with_pipeline: bool, stats: bool = False) -> dict[str, Any]:
        """GitLab's Commit entity; `with_pipeline` makes it CommitDetail (GET one commit), `stats` adds its stats."""
        commit = self._origin.commit(sha)
        commit["web_url"] = f"{self.url}/{self.project_path}/-/commit/{commit['id']}"
        if stats:
            commit["stats"] = self._origin.stats(sha)
        if with_pipeline:
            pipelines = [p for p in self._pipelines.values() if p["sha"] == commit["id"]]
            last = max(pipelines, key=lambda p: p["id"]) if pipelines else None
            commit["last_pipeline"] = self._pipeline_json(last, detailed=False) if last else None
            commit["status"] = last["status"] if last else None
            commit["project_id"] = self.project_id
        return commit

    def _branch_json(self, name: str, sha: str, access_level: int = MAINTAINER) -> dict[str, Any]:
        base = f"{self.url}/{self.project_path}"
        default = self._origin.branches().get(DEFAULT_BRANCH)
        push, merge = self._protected.get(name, (DEVELOPER, DEVELOPER))
        return {
            "name": name,
            "commit": self._commit_json(sha, with_pipeline=False),
            "merged": name != DEFAULT_BRANCH and default is not None and self._origin.is_ancestor(sha, default),
            "protected": name in self._protected,
            "developers_can_push": name in self._protected and push == DEVELOPER,
            "developers_can_merge": name in self._protected and merge == DEVELOPER,
            "can_push": self._may_write(name, access_level)[0],
            "default": name == DEFAULT_BRANCH,
            "web_url": f"{base}/-/tree/{quote(name, safe='/')}",
        }

    def _detailed_status(self, status: str, path: str, warnings: bool) -> dict[str, Any]:
        text, label, icon = _DETAILED_STATUS[status]
        group = status
        if status == "success" and warnings:
            text, label, icon, group = "warning", "passed with warnings", "status_warning", "success-with-warnings"
        return {
            "icon": icon,
            "text": text,
            "label": label,
            "group": group,
            "tooltip": label,
            "has_details": True,
            "details_path": path,
            "illustration": None,
            "favicon": f"/assets/ci_favicons/favicon_{icon}.png",
        }

    def _pipeline_json(self, pipeline: Mapping[str, Any], detailed: bool, metadata: bool = False) -> dict[str, Any]:
        """GitLab's pipeline entities: PipelineBasic, or Pipeline when `detailed`; `metadata` adds `name`, as
        PipelineBasicWithMetadata (the list) and PipelineWithMetadata (GET one, `latest`) do."""
        web_path = f"/{self.project_path}/-/pipelines/{pipeline['id']}"
        view: dict[str, Any] = {
            "id": pipeline["id"],
            "iid": pipeline["iid"],
            "project_id": self.project_id,
            "sha": pipeline["sha"],
            "ref": pipeline["ref"],
            "status": pipeline["status"],
            "source": pipeline["source"],
            "created_at": _iso(pipeline["created_at"]),
            "updated_at": _iso(pipeline["updated_at"]),
            "web_url": f"{self.url}{web_path}",
        }
        if metadata:
            view["name"] = None
        if not detailed:
            return view
        started, finished = pipeline["started_at"], pipeline["finished_at"]
        jobs = self._latest_jobs(pipeline["id"])
        warnings = any(j["allow_failure"] and j["status"] == "failed" for j in jobs)
        view.update(
            {
                "before_sha": pipeline["before_sha"],
                "tag": pipeline["tag"],
                "yaml_errors": pipeline.get("yaml_errors"),
                "user": self._user(),
                "started_at": _iso(started),
                "finished_at": _iso(finished),
                "committed_at": None,
                "duration": round(finished - started) if started and finished else None,
                "queued_duration": round(started - pipeline["created_at"], 3) if started else None,
                "coverage": None,
                "archived": False,
                "detailed_status": self._detailed_status(pipeline["status"], web_path, warnings),
            }
        )
        return view

    def _job_json(self, job: Mapping[str, Any]) -> dict[str, Any]:
        pipeline = self._pipelines[job["pipeline_id"]]
        started, finished = job["started_at"], job["finished_at"]
        if started and finished:
            duration: float | None = round(finished - started, 3)
        elif started:
            duration = round(time.time() - started, 3)
        else:
            duration = None
        queued_from = job["queued_at"] or job["created_at"]
        artifacts = self._artifact_entries(job)
        archive = next((a for a in artifacts if a["file_type"] == "archive"), None)
        view: dict[str, Any] = {
            "id": job["id"],
            "name": job["name"],
            "stage": job["stage"],
            "status": job["status"],
            "ref": pipeline["ref"],
            "tag": pipeline["tag"],
            "coverage": None,
            "allow_failure": job["allow_failure"],
            "created_at": _iso(job["created_at"]),
            "started_at": _iso(started),
            "finished_at": _iso(finished),
            "erased_at": None,
            "duration": duration,
            "queued_duration": round(started - queued_from, 3) if started else None,
            "user": self._job_user(),
            "commit": self._commit_json(pipeline["sha"], with_pipeline=False),
            "pipeline": self._pipeline_json(pipeline, detailed=False),
            "web_url": f"{self.url}/{self.project_path}/-/jobs/{job['id']}",
            "project": {"ci_job_token_scope_enabled": False},
            "artifacts": artifacts,
            "artifacts_expire_at": None,
            "tag_list": [],
            "runner": None,
            "archived": False,
        }
        # GitLab's Job entity sends these two only `if: job.artifacts?` and `if: job.failed?`.
        if archive:
            view["artifacts_file"] = {"filename": archive["filename"], "size": archive["size"]}
        if job["status"] == "failed":
            view["failure_reason"] = job["failure_reason"]
        return view

    def _artifact_entries(self, job: Mapping[str, Any]) -> list[dict[str, Any]]:
        entries = []
        if job["artifacts"]:
            size = sum(job["artifacts"].values())
            entries.append({"file_type": "archive", "size": size, "filename": "artifacts.zip", "file_format": "zip"})
            entries.append({"file_type": "metadata", "size": 0, "filename": "metadata.gz", "file_format": "gzip"})
        trace = self._trace_path(job["id"])
        if trace.exists():
            entries.append(
                {"file_type": "trace", "size": trace.stat().st_size, "filename": "job.log", "file_format": "raw"}
            )
        if job["dotenv"]:
            size = len("".join(f"{k}={v}\n" for k, v in job["dotenv"].items()))
            entries.append({"file_type": "dotenv", "size": size, "filename": ".env.gz", "file_format": "gzip"})
        return entries

    # --- HTTP API ------------------------------------------------------------------------------------

    def _access_level(self, headers: Mapping[str, str]) -> int:
        """GitLab's access level of the request's token: 40 (Maintainer), 20 (Reporter) or 0 (unknown token)."""
        supplied = headers.get("PRIVATE-TOKEN") or ""
        authorization = headers.get("Authorization") or ""
        if not supplied and authorization.startswith("Bearer "):
            supplied = authorization.removeprefix("Bearer ")
        return self._token_level(supplied)

    def _token_level(self, supplied: str) -> int:
        if hmac.compare_digest(supplied.encode(), self._token.encode()):
            return MAINTAINER
        if any(hmac.compare_digest(supplied.encode(), t.encode()) for t in self._developer_tokens):
            return DEVELOPER
        if any(hmac.compare_digest(supplied.encode(), t.encode()) for t in self._reporter_tokens):
            return REPORTER
        return 0

    def _may_write(self, branch: str, access_level: int) -> tuple[bool, bool]:
        """(may push, may merge) on `branch` for a user of this access level."""
        if branch not in self._protected:
            return access_level >= DEVELOPER, access_level >= DEVELOPER
        push, merge = self._protected[branch]
        return bool(push) and access_level >= push, bool(merge) and access_level >= merge

    def _next_fault(self) -> tuple[int | str, int | None] | None:
        """(HTTP status or "slow", Retry-After) for this request, or None."""
        with self._lock:
            if self._fail_next:
                status, retry_after = self._fail_next.pop(0)
                return status, retry_after if retry_after is not None else self._faults.retry_after
            plan = self._faults
            if plan.rate <= 0 or plan.rng.random() >= plan.rate:
                return None
            kind = plan.rng.choice(plan.kinds)
            return (kind if kind == "slow" else int(kind)), plan.retry_after

    def _matches_project(self, segment: str) -> bool:
        return segment in (str(self.project_id), self.project_path)


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] | None = None


def _json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> _Response:
    return _Response(status, json.dumps(payload).encode(), "application/json", headers)


def _error(status: int, message: Any) -> _Response:
    return _json_response(status, {"message": message})


class _ApiError(Exception):
    def __init__(self, status: int, message: Any) -> None:
        super().__init__(message)
        self.response = _error(status, message)


def _checked_status(status: str) -> str:
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; GitLab statuses are {', '.join(STATUSES)}")
    return status


@dataclass
class _Request:
    access_level: int
    method: str
    segments: list[str]
    query: dict[str, list[str]]
    body: dict[str, Any]
    base_url: str
    raw_path: str

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str) -> bool:
        """Grape's Boolean coercion: python-gitlab sends Python's `True`, curl users send `true` or `1`."""
        return (self.arg(name) or "").lower() in ("true", "1", "yes")

    def int_arg(self, name: str, default: int) -> int:
        try:
            return int(self.arg(name) or default)
        except ValueError:
            return default


def _paginate(request: _Request, items: list[Any]) -> _Response:
    """GitLab's offset pagination: X-* headers and a Link header python-gitlab follows."""
    per_page = min(max(request.int_arg("per_page", 20), 1), 100)
    page = max(request.int_arg("page", 1), 1)
    total = len(items)
    total_pages = max((total + per_page - 1) // per_page, 1)
    chunk = items[(page - 1) * per_page : page * per_page]

    def page_url(number: int) -> str:
        query = {k: v[-1] for k, v in request.query.items()}
        query.update({"page": str(number), "per_page": str(per_page)})
        return f"{request.base_url}{request.raw_path}?{urlencode(query)}"

    links = []
    if page < total_pages:
        links.append(f'<{page_url(page + 1)}>; rel="next"')
    if page > 1:
        links.append(f'<{page_url(page - 1)}>; rel="prev"')
    links.append(f'<{page_url(1)}>; rel="first"')
    links.append(f'<{page_url(total_pages)}>; rel="last"')
    headers = {
        "X-Page": str(page),
        "X-Per-Page": str(per_page),
        "X-Total": str(total),
        "X-Total-Pages": str(total_pages),
        "X-Next-Page": str(page + 1) if page < total_pages else "",
        "X-Prev-Page": str(page - 1) if page > 1 else "",
        "Link": ", ".join(links),
    }
    return _json_response(200, chunk, headers)


class _Api:
    """Routes of the REST v4 subset and of the control API; every handler runs under the server lock."""

    def __init__(self, server: SandboxGitLab) -> None:
        self.s = server

    def handle_v4(self, request: _Request) -> _Response:
        seg = request.segments
        method = request.method
        if seg == ["version"]:
            return _json_response(200, {"version": "17.0.0-pc-release-sandbox", "revision": "sandbox"})
        if seg == ["user"]:
            return _json_response(200, self.s._user())
        if len(seg) < 2 or seg[0] != "projects":
            return _error(404, "404 Not Found")
        if not self.s._matches_project(seg[1]):
            return _error(404, "404 Project Not Found")
        rest = seg[2:]
        if method != "GET" and request.access_level < DEVELOPER:
            return _error(403, "403 Forbidden")  # a Reporter reads; running or retrying pipelines needs Developer
        with self.s._lock:
            if method == "GET" and not rest:
                project = self.s._project_json()
                project["permissions"] = {
                    "project_access": {"access_level": request.access_level, "notification_level": 3},
                    "group_access": None,
                }
                return _json_response(200, project)
            if rest[:2] == ["repository", "branches"]:
                return self.branches(request, rest[2:])
            if method == "GET" and rest[:2] == ["repository", "commits"] and len(rest) == 3:
                return self.commit(request, rest[2])
            if method == "POST" and rest == ["pipeline"]:
                return self.create_pipeline(request)
            if rest[:1] == ["pipelines"]:
                return self.pipelines(request, rest[1:])
            if method == "GET" and rest[:2] == ["jobs", "artifacts"] and "raw" in rest[3:]:
                # python-gitlab leaves `/` in the ref unencoded here, so the ref ends at the `raw` segment.
                raw_at = rest.index("raw", 3)
                return self.artifact_by_ref(request, "/".join(rest[2:raw_at]), "/".join(rest[raw_at + 1 :]))
            if rest[:1] == ["jobs"]:
                return self.jobs(request, rest[1:])
        return _error(404, "404 Not Found")

    def branches(self, request: _Request, rest: list[str]) -> _Response:
        heads = self.s._origin.branches()
        if request.method != "GET":
            return _error(405, "405 Method Not Allowed")
        if not rest:
            search = request.arg("search")
            names = sorted(n for n in heads if not search or search in n)
            return _paginate(request, [self.s._branch_json(n, heads[n], request.access_level) for n in names])
        name = "/".join(rest)
        if name not in heads:
            return _error(404, "404 Branch Not Found")
        return _json_response(200, self.s._branch_json(name, heads[name], request.access_level))

    def commit(self, request: _Request, ref_or_sha: str) -> _Response:
        sha = self.s._origin.resolve_commit(ref_or_sha)
        if sha is None:
            return _error(404, "404 Commit Not Found")
        # doc/api/commits.md: `stats` (default true) includes the commit's stats.
        stats = request.arg("stats") is None or request.flag("stats")
        return _json_response(200, self.s._commit_json(sha, with_pipeline=True, stats=stats))

    def create_pipeline(self, request: _Request) -> _Response:
        ref = request.body.get("ref")
        if not ref:
            return _error(400, "ref is missing")
        if not any(self.s._may_write(str(ref), request.access_level)):
            # GitLab's answer when the user may neither push nor merge to a protected ref.
            return _error(400, {"base": ["Insufficient permissions to create a new pipeline"]})
        variables, types = {}, {}
        for index, item in enumerate(request.body.get("variables") or []):
            if isinstance(item, dict) and "key" in item:
                key = str(item["key"])
                variables[key] = "" if item.get("value") is None else str(item["value"])
                # Grape's `values: Ci::PipelineVariable.variable_types.keys, default: 'env_var'`.
                types[key] = str(item.get("variable_type") or "env_var")
                if types[key] not in ("env_var", "file"):
                    message = f"variables[{index}][variable_type] does not have a valid value"
                    return _json_response(400, {"error": message})
        try:
            pipeline = self.s._create_pipeline(str(ref), None, variables, "api", NULL_SHA, types)
        except PipelineCreationError as err:
            return _error(400, {"base": [str(err)]})
        return _json_response(201, self.s._pipeline_json(pipeline, detailed=True))

    def _pipeline_or_404(self, pipeline_id: str) -> dict[str, Any]:
        pipeline = self.s._pipelines.get(int(pipeline_id)) if pipeline_id.isdigit() else None
        if pipeline is None:
            raise _ApiError(404, "404 Not found")
        return pipeline

    def pipelines(self, request: _Request, rest: list[str]) -> _Response:
        method = request.method
        if method == "GET" and not rest:
            listed = self._filtered_pipelines(request)
            return _paginate(request, [self.s._pipeline_json(p, False, metadata=True) for p in listed])
        if method == "GET" and rest == ["latest"]:
            # GitLab's Project#latest_pipeline: the newest pipeline for the ref at its head commit. With none,
            # `authorize! :read_pipeline, nil` answers 403, as doc/api/pipelines.md says.
            ref = request.arg("ref") or DEFAULT_BRANCH
            head = self.s._origin.resolve(ref)
            candidates = [p for p in self.s._pipelines.values() if head and (p["ref"], p["sha"]) == (ref, head[0])]
            if not candidates:
                return _error(403, "403 Forbidden")
            latest = max(candidates, key=lambda p: p["id"])
            return _json_response(200, self.s._pipeline_json(latest, detailed=True, metadata=True))
        if not rest:
            return _error(405, "405 Method Not Allowed")
        pipeline = self._pipeline_or_404(rest[0])
        action = rest[1:]
        if method == "GET" and not action:
            return _json_response(200, self.s._pipeline_json(pipeline, detailed=True, metadata=True))
        if method == "GET" and action == ["variables"]:
            return _json_response(200, pipeline["variables"])
        if method == "GET" and action == ["jobs"]:
            # GitLab lists only each job's latest attempt here unless include_retried=true (doc/api/jobs.md);
            # the project's job list has no such parameter and lists every attempt.
            jobs = [j for j in self.s._jobs.values() if j["pipeline_id"] == pipeline["id"]]
            if not request.flag("include_retried"):
                jobs = [j for j in jobs if not j["retried"]]
            return _paginate(request, [self.s._job_json(j) for j in self._filtered_jobs(request, jobs)])
        if method == "POST" and action == ["cancel"]:
            self.s._cancel(pipeline)
            return _json_response(200, self.s._pipeline_json(pipeline, detailed=True))
        if method == "POST" and action == ["retry"]:
            for job in self.s._latest_jobs(pipeline["id"]):
                if job["status"] in ("failed", "canceled"):
                    self.s._retry(job)
            self.s._save()
            return _json_response(201, self.s._pipeline_json(pipeline, detailed=True))
        return _error(404, "404 Not Found")

    def _filtered_pipelines(self, request: _Request) -> list[dict[str, Any]]:
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
                after = _parse_millis(request.arg("updated_after") or "")
                items = [p for p in items if _millis(p["updated_at"]) > after]
            if request.arg("updated_before"):
                before = _parse_millis(request.arg("updated_before") or "")
                items = [p for p in items if _millis(p["updated_at"]) < before]
        except ValueError as err:
            raise _ApiError(400, "updated_after/updated_before must be ISO 8601 date-times") from err
        order_by = request.arg("order_by", "id")
        if order_by not in ("id", "status", "ref", "updated_at", "user_id"):
            raise _ApiError(400, "order_by does not have a valid value")
        sort = request.arg("sort", "desc")
        if sort not in ("asc", "desc"):
            raise _ApiError(400, "sort does not have a valid value")
        key = "id" if order_by == "user_id" else order_by
        return sorted(items, key=lambda p: (p[key], p["id"]), reverse=sort == "desc")

    def _filtered_jobs(self, request: _Request, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        scopes = set(request.query.get("scope[]", []) + request.query.get("scope", []))
        if scopes:
            jobs = [j for j in jobs if j["status"] in scopes]
        # GitLab lists jobs newest first.
        return sorted(jobs, key=lambda j: j["id"], reverse=True)

    def jobs(self, request: _Request, rest: list[str]) -> _Response:
        method = request.method
        if method == "GET" and not rest:
            return _paginate(
                request, [self.s._job_json(j) for j in self._filtered_jobs(request, list(self.s._jobs.values()))]
            )
        if not rest:
            return _error(405, "405 Method Not Allowed")
        job = self.s._jobs.get(int(rest[0])) if rest[0].isdigit() else None
        if job is None:
            return _error(404, "404 Not found")
        action = rest[1:]
        if method == "GET" and not action:
            return _json_response(200, self.s._job_json(job))
        if method == "GET" and action == ["trace"]:
            trace = self.s._trace_path(job["id"])
            body = trace.read_bytes() if trace.exists() else b""
            return _Response(200, body, "text/plain; charset=utf-8")
        if method == "GET" and action == ["artifacts"]:
            return self._artifact_archive(job)
        if method == "GET" and action[:1] == ["artifacts"]:
            return self._artifact_file(job, "/".join(action[1:]))
        if method == "POST" and action == ["retry"]:
            try:
                clone = self.s._retry(job)
            except PermissionError:
                return _error(403, "403 Forbidden - Job is not retryable")
            self.s._save()
            return _json_response(201, self.s._job_json(clone))
        if method == "POST" and action == ["cancel"]:
            if job["status"] in CANCELABLE_STATUSES:
                self.s._set_job_status(job, "canceled")
                self.s._process(self.s._pipelines[job["pipeline_id"]])
                self.s._save()
            return _json_response(201, self.s._job_json(job))
        return _error(404, "404 Not Found")

    def _artifact_file(self, job: Mapping[str, Any], path: str) -> _Response:
        relative = _safe_relative(path)
        if relative is None or relative not in job["artifacts"]:
            return _error(404, "404 Not Found")
        content = (self.s._artifacts_dir(job["id"]) / relative).read_bytes()
        return _Response(200, content, "application/octet-stream")

    def _artifact_archive(self, job: Mapping[str, Any]) -> _Response:
        if not job["artifacts"]:
            return _error(404, "404 Not Found")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for relative in job["artifacts"]:
                archive.write(self.s._artifacts_dir(job["id"]) / relative, relative)
        return _Response(200, buffer.getvalue(), "application/zip")

    def artifact_by_ref(self, request: _Request, ref: str, path: str) -> _Response:
        """The file from the latest successful job named `job` on `ref`, like GitLab's raw download."""
        name = request.arg("job")
        candidates = [
            j
            for j in self.s._jobs.values()
            if j["name"] == name and j["status"] == "success" and self.s._pipelines[j["pipeline_id"]]["ref"] == ref
        ]
        if not candidates:
            return _error(404, "404 Not Found")
        return self._artifact_file(max(candidates, key=lambda j: j["id"]), path)

    def handle_control(self, request: _Request) -> _Response:
        route = "/".join(request.segments)
        body = request.body
        try:
            if request.method == "POST" and route == "pipelines":
                variables = {str(k): str(v) for k, v in (body.get("variables") or {}).items()}
                pipeline = self.s.create_pipeline(
                    str(body["ref"]), body.get("sha"), variables, str(body.get("source", "push"))
                )
                return _json_response(201, pipeline)
            if request.method == "POST" and route == "jobs/status":
                self.s.set_job_status(int(body["pipeline_id"]), str(body["job_name"]), str(body["status"]))
                return _json_response(200, {"ok": True})
            if request.method == "POST" and route == "pipelines/status":
                self.s.set_pipeline_status(int(body["pipeline_id"]), str(body["status"]))
                return _json_response(200, {"ok": True})
            if request.method == "POST" and route == "faults":
                self.s.set_faults(
                    rate=float(body.get("rate", 0.0)),
                    kinds=tuple(body.get("kinds", ("502", "503", "429", "slow"))),
                    seed=body.get("seed"),
                    slow_seconds=float(body.get("slow_seconds", 0.3)),
                    retry_after=int(body.get("retry_after", 1)),
                )
                return _json_response(200, {"ok": True})
            if request.method == "POST" and route == "faults/next":
                self.s.fail_next(int(body["n"]), int(body.get("status", 502)), body.get("retry_after"))
                return _json_response(200, {"ok": True})
            if request.method == "POST" and route == "master-ci":
                self.s.set_master_ci(slow_seconds=float(body.get("slow_seconds", 0.0)), fail=bool(body.get("fail")))
                return _json_response(200, {"ok": True})
            if request.method == "GET" and route == "requests":
                return _json_response(200, [list(entry) for entry in self.s.request_log])
            if request.method == "POST" and route == "requests/reset":
                self.s.reset_request_log()
                return _json_response(200, {"ok": True})
        except PipelineCreationError as err:
            return _error(400, {"base": [str(err)]})
        except SandboxLookupError as err:
            return _error(404, str(err))
        except (KeyError, ValueError, TypeError) as err:
            return _error(400, f"bad control request: {err}")
        return _error(404, "404 Not Found")


_REDACTED_QUERY_KEYS = ("private_token", "access_token", "job_token")


def _loggable(raw_path: str, query: str) -> str:
    """The request path for the log, with any token-bearing query parameter removed."""
    if not query:
        return raw_path
    pairs = [p for p in query.split("&") if p.split("=", 1)[0].lower() not in _REDACTED_QUERY_KEYS]
    return f"{raw_path}?{'&'.join(pairs)}" if pairs else raw_path


def _handler_for(server: SandboxGitLab) -> type[BaseHTTPRequestHandler]:
    api = _Api(server)
    site = pages.Pages(server, hidden=(server._token, *server._developer_tokens, *server._reporter_tokens))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "pc-release-sandbox-gitlab"

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: the request log is kept in memory, and headers (tokens) are never printed."""

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_PUT(self) -> None:
            self._dispatch("PUT")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

        def _dispatch(self, method: str) -> None:
            body = self._read_body()
            split = urlsplit(self.path)
            raw_path = split.path
            try:
                response = self._route(method, raw_path, split.query, body)
            except _ApiError as err:
                response = err.response
            except Exception as err:  # a sandbox bug answers 500, like GitLab, instead of dropping the socket
                response = _error(500, f"500 Internal Server Error ({type(err).__name__})")
            self._send(response)

        def _route(self, method: str, raw_path: str, query: str, raw_body: bytes) -> _Response:
            repository = f"/{server.project_path}.git/"
            if raw_path.startswith(repository):
                answer = git_http.serve(
                    origin=server._origin.path,
                    data_dir=server._data_dir,
                    access_level=server._token_level(git_http.basic_auth_token(self.headers) or ""),
                    protected=server._protected,
                    method=method,
                    rest=raw_path[len(repository) :],
                    query=parse_qs(query),
                    query_string=query,
                    headers=self.headers,
                    body=raw_body,
                )
                content_type = answer.headers.pop("Content-Type", "text/plain")
                return _Response(answer.status, answer.body, content_type, answer.headers)
            if raw_path.startswith("/api/v4/"):
                with server._lock:
                    server._request_log.append((method, _loggable(raw_path, query)))
                fault = server._next_fault()
                if fault is not None:
                    kind, retry_after = fault
                    if kind == "slow":
                        time.sleep(server._faults.slow_seconds)
                    elif kind == 429:
                        # GitLab's Rack::Attack throttle: plain text "Retry later\n" (Gitlab::Throttle) and Retry-After.
                        headers = {"Retry-After": str(retry_after or 0)}
                        return _Response(429, b"Retry later\n", "text/plain", headers)
                    else:
                        status = int(kind)
                        return _json_response(status, {"message": _FAULT_MESSAGES.get(status, str(status))})
                prefix, handle = "/api/v4/", api.handle_v4
            elif raw_path.startswith("/-/sandbox/"):
                prefix, handle = "/-/sandbox/", api.handle_control
            elif (page := site.serve(method, raw_path, query, self.headers, raw_body)) is not None:
                return _Response(page.status, page.body, page.content_type, page.headers)
            else:
                return _error(404, "404 Not Found")
            access_level = server._access_level(self.headers)
            if not access_level or (prefix == "/-/sandbox/" and access_level < MAINTAINER):
                return _error(401, "401 Unauthorized")
            request = _Request(
                access_level=access_level,
                method=method,
                segments=[unquote(s) for s in raw_path[len(prefix) :].split("/") if s],
                query=parse_qs(query, keep_blank_values=True),
                body=self._parse_body(raw_body),
                base_url=f"http://{self.headers.get('Host') or server.url.removeprefix('http://')}",
                raw_path=raw_path,
            )
            return handle(request)

        def _read_body(self) -> bytes:
            if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
                return git_http.read_chunked(self.rfile)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _parse_body(self, raw: bytes) -> dict[str, Any]:
            if not raw:
                return {}
            content_type = self.headers.get("Content-Type") or ""
            if "json" in content_type:
                try:
                    parsed = json.loads(raw)
                except ValueError as err:
                    raise _ApiError(400, "body is not valid JSON") from err
                return parsed if isinstance(parsed, dict) else {}
            return _form_body(raw.decode(errors="replace"))

        def _send(self, response: _Response) -> None:
            self.send_response(response.status, HTTPStatus(response.status).phrase)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for key, value in (response.headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(response.body)

    return Handler


def _form_body(text: str) -> dict[str, Any]:
    """Form-encoded bodies: `ref=x&variables[][key]=K&variables[][value]=V` as GitLab's Grape reads them."""
    body: dict[str, Any] = {}
    variables: list[dict[str, str]] = []
    for key, values in parse_qs(text, keep_blank_values=True).items():
        if not key.startswith("variables["):
            body[key] = values[-1]
    pending: dict[str, str] = {}
    for pair in text.split("&"):
        key, _, value = pair.partition("=")
        key = unquote(key)
        if key.startswith("variables[") and key.endswith("]"):
            name = key.rsplit("[", 1)[1].rstrip("]")
            if name in pending:
                variables.append(pending)
                pending = {}
            pending[name] = unquote(value.replace("+", " "))
    if pending:
        variables.append(pending)
    if variables:
        body["variables"] = variables
    return body
