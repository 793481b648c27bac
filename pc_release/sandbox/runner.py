"""Runs the sandbox GitLab's pending jobs as local processes, the way a shell-executor GitLab Runner would.

The runner does not order jobs itself: like a real runner it only picks up jobs the server has made
`pending` (the server moves jobs through stages and `needs`, and skips later stages after a failure).
Each job gets a fresh clone of the origin checked out at the pipeline SHA (so `origin/<branch>` refs exist,
as in a GitLab checkout), runs `before_script` + `script` under `bash` with `set -eo pipefail`, then
`after_script` in a separate shell, and uploads the files of `artifacts:paths` (the archive, which is all GitLab
serves for download) and the dotenv reports (job variables for later jobs, checked as GitLab checks them).
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from pc_release.dotenv import DotenvError, parse_dotenv_report

DEFAULT_JOB_TIMEOUT = 300.0
AFTER_SCRIPT_TIMEOUT = 300.0
_KILL_GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class JobAssignment:
    """Everything a runner needs to execute one job; `variables` are already merged by precedence."""

    job_id: int
    job_name: str
    sha: str
    script: tuple[str, ...]
    trace_path: Path
    artifacts_dir: Path
    before_script: tuple[str, ...] = ()
    after_script: tuple[str, ...] = ()
    variables: Mapping[str, str] = field(default_factory=dict)
    artifact_paths: tuple[str, ...] = ()
    artifacts_when: str = "on_success"
    dotenv_reports: tuple[str, ...] = ()
    timeout_seconds: float | None = None


@dataclass(frozen=True)
class JobResult:
    """How a job ended: status is success, failed or canceled."""

    status: str
    failure_reason: str | None = None
    exit_code: int | None = None
    dotenv: Mapping[str, str] = field(default_factory=dict)


class RunnerHost(Protocol):
    """The server side of the runner protocol (GitLab's job request / update calls)."""

    def claim_job(self) -> JobAssignment | None:
        """Atomically move one pending job to running and hand it over, or None if none is pending."""

    def finish_job(self, job_id: int, result: JobResult) -> None:
        """Record the outcome; ignored by the host if the job was canceled meanwhile."""

    def job_aborted(self, job_id: int) -> bool:
        """True once the job is no longer running on the server (canceled, or forced to another status)."""


def expand_variables(value: str, env: Mapping[str, str]) -> str:
    """`$VAR` / `${VAR}` expansion of variable values, as the runner does before starting the shell."""
    return re.sub(
        r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))",
        lambda match: env.get(match.group(1) or match.group(2), ""),
        value,
    )


def shell_script(lines: Iterable[str]) -> str:
    """A bash script that echoes each command (`$ cmd`) before running it and stops at the first failure."""
    parts = ["set -eo pipefail"]
    for line in lines:
        shown = line.splitlines()[0] if line.strip() else line
        if "\n" in line.strip():
            shown += " # collapsed multi-line command"
        parts.append(f"printf '%s\\n' {shlex.quote('$ ' + shown)}")
        parts.append(line)
    return "\n".join(parts) + "\n"


class LocalPipelineRunner:
    """Polls a `RunnerHost` for pending jobs and runs up to `concurrency` of them at a time."""

    def __init__(
        self,
        host: RunnerHost,
        origin: Path,
        builds_dir: Path,
        *,
        job_timeout: float = DEFAULT_JOB_TIMEOUT,
        concurrency: int = 4,
        poll_interval: float = 0.1,
        hidden_values: Iterable[str] = (),
    ) -> None:
        self._host = host
        self._origin = Path(origin)
        self._builds_dir = Path(builds_dir)
        self._job_timeout = job_timeout
        self._concurrency = concurrency
        self._poll_interval = poll_interval
        # Secrets of the server process (the admin token) must not leak into job environments.
        self._hidden_values = frozenset(value for value in hidden_values if value)
        self._stopping = threading.Event()
        self._slots = threading.Semaphore(concurrency)
        self._executor: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._builds_dir.mkdir(parents=True, exist_ok=True)
        self._executor = ThreadPoolExecutor(max_workers=self._concurrency, thread_name_prefix="sandbox-job")
        self._thread = threading.Thread(target=self._dispatch, name="sandbox-runner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    def _dispatch(self) -> None:
        while not self._stopping.is_set():
            if not self._slots.acquire(timeout=self._poll_interval):
                continue
            assignment = self._host.claim_job()
            if assignment is None:
                self._slots.release()
                self._stopping.wait(self._poll_interval)
                continue
            assert self._executor is not None
            self._executor.submit(self._run_and_report, assignment)

    def _run_and_report(self, assignment: JobAssignment) -> None:
        try:
            result = self.run_job(assignment)
        except Exception as err:  # a runner bug must fail the job, not leave it running forever
            with contextlib.suppress(OSError), assignment.trace_path.open("a") as trace:
                trace.write(f"ERROR: Job failed (system failure): {type(err).__name__}: {err}\n")
            result = JobResult(status="failed", failure_reason="runner_system_failure")
        finally:
            self._slots.release()
        self._host.finish_job(assignment.job_id, result)

    def run_job(self, job: JobAssignment) -> JobResult:
        """Execute one job to completion and return its result; the trace is written as it runs."""
        job.trace_path.parent.mkdir(parents=True, exist_ok=True)
        build_dir = self._builds_dir / str(job.job_id)
        with job.trace_path.open("a", buffering=1) as trace:
            trace.write(f"Running with pc-release sandbox runner (shell executor) on {os.uname().nodename}\n")
            try:
                self._checkout(job, build_dir, trace)
                return self._execute(job, build_dir, trace)
            finally:
                shutil.rmtree(build_dir, ignore_errors=True)

    def _checkout(self, job: JobAssignment, build_dir: Path, trace: IO[str]) -> None:
        trace.write("Getting source from Git repository\n")
        shutil.rmtree(build_dir, ignore_errors=True)
        subprocess.run(
            ["git", "clone", "--quiet", "--no-checkout", str(self._origin), str(build_dir)],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["git", "-C", str(build_dir), "checkout", "--quiet", "--detach", job.sha],
            check=True,
            capture_output=True,
        )
        trace.write(f"Checking out {job.sha[:8]} as detached HEAD\n")

    def _environment(self, job: JobAssignment, build_dir: Path) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if value not in self._hidden_values}
        env.update({"CI_PROJECT_DIR": str(build_dir), "CI_BUILDS_DIR": str(self._builds_dir)})
        # Like the runner, every value is expanded against the complete set, whatever their order.
        env.update(job.variables)
        unexpanded = dict(env)
        for key, value in job.variables.items():
            if "$" in value:
                env[key] = expand_variables(value, unexpanded)
        return env

    def _execute(self, job: JobAssignment, build_dir: Path, trace: IO[str]) -> JobResult:
        env = self._environment(job, build_dir)
        trace.write('Executing "step_script" stage of the job script\n')
        timeout = job.timeout_seconds or self._job_timeout
        outcome, exit_code = self._run_shell(
            job, shell_script((*job.before_script, *job.script)), build_dir, env, trace, timeout
        )
        if outcome == "canceled":
            trace.write("ERROR: Job failed: canceled\n")
            return JobResult(status="canceled", failure_reason=None, exit_code=exit_code)
        if job.after_script:
            trace.write("Running after_script\n")
            self._run_shell(job, shell_script(job.after_script), build_dir, env, trace, AFTER_SCRIPT_TIMEOUT)
        succeeded = outcome == "success"
        if job.artifacts_when == "always" or job.artifacts_when == ("on_success" if succeeded else "on_failure"):
            self._upload_archive(job, build_dir, trace)
        # Reports are uploaded whatever the job's result; GitLab refuses an invalid dotenv report, which fails
        # the job.
        try:
            dotenv = self._upload_dotenv(job, build_dir, trace)
        except DotenvError as err:
            trace.write(f'ERROR: Uploading artifacts as "dotenv" to coordinator... 400 Bad Request ({err})\n')
            trace.write("ERROR: Job failed: the dotenv report was refused\n")
            return JobResult(status="failed", failure_reason="script_failure", exit_code=exit_code)
        if succeeded:
            trace.write("Job succeeded\n")
            return JobResult(status="success", exit_code=0, dotenv=dotenv)
        if outcome == "timeout":
            trace.write(f"ERROR: Job failed: execution took longer than {timeout:g} seconds\n")
            return JobResult(status="failed", failure_reason="job_execution_timeout", dotenv=dotenv)
        trace.write(f"ERROR: Job failed: exit code {exit_code}\n")
        return JobResult(status="failed", failure_reason="script_failure", exit_code=exit_code, dotenv=dotenv)

    def _run_shell(
        self,
        job: JobAssignment,
        script: str,
        build_dir: Path,
        env: Mapping[str, str],
        trace: IO[str],
        timeout: float,
    ) -> tuple[str, int | None]:
        """Returns (success|failed|timeout|canceled, exit code)."""
        trace.flush()
        process = subprocess.Popen(
            ["bash", "-c", script],
            cwd=build_dir,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=trace,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                code = process.wait(timeout=0.2)
                return ("success" if code == 0 else "failed"), code
            except subprocess.TimeoutExpired:
                pass
            if self._stopping.is_set() or self._host.job_aborted(job.job_id):
                _terminate(process)
                return "canceled", None
            if time.monotonic() > deadline:
                _terminate(process)
                return "timeout", None

    def _upload_archive(self, job: JobAssignment, build_dir: Path, trace: IO[str]) -> None:
        """The files `artifacts:paths` names: the job's archive, downloadable file by file."""
        if job.artifact_paths:
            trace.write("Uploading artifacts...\n")
        for pattern in job.artifact_paths:
            matches = _matching_files(build_dir, pattern)
            if not matches:
                trace.write(f"WARNING: {pattern}: no matching files\n")
                continue
            trace.write(f"{pattern}: found {len(matches)} matching artifact files and directories\n")
            for source in matches:
                target = job.artifacts_dir / source.relative_to(build_dir)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)

    def _upload_dotenv(self, job: JobAssignment, build_dir: Path, trace: IO[str]) -> dict[str, str]:
        """The variables of the dotenv reports; not part of the archive unless `artifacts:paths` lists them too."""
        reports = [build_dir / report for report in job.dotenv_reports if (build_dir / report).is_file()]
        if not reports:
            return {}
        trace.write(f'Uploading artifacts as "dotenv": {", ".join(job.dotenv_reports)}\n')
        values: dict[str, str] = {}
        for path in reports:
            values.update(parse_dotenv_report(path.read_bytes()))
        return values


def _matching_files(root: Path, pattern: str) -> list[Path]:
    """Files under `root` named by an artifacts path (glob, `**`, or a directory taken whole)."""
    files: list[Path] = []
    for match in sorted(glob.glob(pattern, root_dir=root, recursive=True)):
        path = root / match
        if not path.resolve().is_relative_to(root.resolve()):
            continue
        if path.is_dir():
            files.extend(p for p in sorted(path.rglob("*")) if p.is_file() and ".git" not in p.parts)
        elif path.is_file():
            files.append(path)
    return files


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """Stop the whole process group: job scripts start children (servers, test runners) of their own."""
    for sig, wait in ((signal.SIGTERM, _KILL_GRACE_SECONDS), (signal.SIGKILL, None)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
