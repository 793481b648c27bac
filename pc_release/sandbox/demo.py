"""`python -m pc_release.sandbox.demo demo|ui`: the embedded default end to end, in a local sandbox folder.

`demo` publishes the sample platform-control repo to a local origin, starts the sandbox GitLab (its runner runs
the pipeline jobs as local processes), waits for master CI on the pushed SHA, promotes that SHA with the
`promote_release` Dagster job on the sandbox's own instance, lets `release_pipeline_sensor` follow the release
pipeline to its end, and prints the release record. `ui` serves `dagster dev` on the same sandbox and instance,
with the sandbox GitLab running beside it, so every run of the demo can be looked at and promotions launched.

Layout of the sandbox folder (default `./.sandbox`): `git/origin.git` and `git/clone` (the sample repo),
`gitlab/` (the sandbox GitLab's state, job traces and `server.log`), `dagster/` (DAGSTER_HOME), `dist/`
(candidate env and release records), `environment/` (what the sample's deploy jobs deploy into).

The GitLab token is generated afresh for every command (`ui` takes an exported PC_RELEASE_GITLAB_TOKEN instead,
so that you can sign in to the sandbox GitLab's pages) and handed to child processes through their environment
only: it is never printed, logged or written to the sandbox.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pc_release.errors import PcReleaseError
from pc_release.resources.gitlab import TOKEN_ENV_VAR as TOKEN_ENV
from pc_release.sandbox.gitlab_server import connect_clone
from pc_release.sandbox.sample import MASTER_BRANCH, RELEASE_BRANCH, create_sample_origin, materialize_sample_repo

# The checkout pc-release runs from: workspace.yaml and the embedded instance's dagster.yaml live there.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = Path(__file__).resolve().parent / "node" / "node_modules"
PROJECT_PATH = "platform/platform-control"
# The clone's remote at the sandbox GitLab's repository URL, which pc-release pushes to (GitLab's branch is the
# one its pipelines run); `origin` stays the bare repository the demo pushes master commits to before GitLab runs.
GITLAB_REMOTE = "gitlab"
# The settings' default GitLab port. Fixed rather than free, so that the pipeline URLs one demo recorded still
# point at the sandbox GitLab that the next demo or ui serves.
DEFAULT_GITLAB_PORT = 8929
DEFAULT_UI_PORT = 3000
DEFAULT_TIMEOUT_SECONDS = 300.0
POLL_SECONDS = 0.5
SENSOR_NAME = "release_pipeline_sensor"
TERMINAL = frozenset({"success", "failed", "canceled", "skipped"})
# What the sandbox GitLab's jobs must not inherit from this process: they get GitLab's own CI_* variables
# and the pipeline's PLATFORM_CONTROL_* ones, exactly as on a real runner.
_NOT_FOR_JOBS = ("PC_RELEASE_", "PLATFORM_CONTROL_", "CI_", "DAGSTER_")


class DemoError(Exception):
    """The demo cannot go on; the message says what failed and where to look."""


@dataclass(frozen=True)
class Sandbox:
    """The sandbox folder and what lives in it."""

    root: Path

    @property
    def origin(self) -> Path:
        return self.root / "git" / "origin.git"

    @property
    def clone(self) -> Path:
        return self.root / "git" / "clone"

    @property
    def gitlab_state(self) -> Path:
        return self.root / "gitlab"

    @property
    def server_log(self) -> Path:
        return self.gitlab_state / "server.log"

    @property
    def server_pid(self) -> Path:
        return self.gitlab_state / "server.pid"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    @property
    def dist(self) -> Path:
        return self.root / "dist"

    @property
    def environment(self) -> Path:
        return self.root / "environment"

    def trace(self, job_id: int) -> Path:
        return self.gitlab_state / "traces" / f"{job_id}.log"

    def is_complete(self) -> bool:
        return (
            (self.origin / "HEAD").exists()
            and (self.clone / ".git").is_dir()
            and (self.dagster_home / "dagster.yaml").exists()
        )

    def connect_to_gitlab(self, gitlab_url: str) -> None:
        """Point the clone's GitLab remote at the sandbox GitLab now serving (its port may change between runs)."""
        connect_clone(self.clone, GITLAB_REMOTE, f"{gitlab_url}/{PROJECT_PATH}.git", TOKEN_ENV)

    def pc_release_env(self, gitlab_url: str, token: str) -> dict[str, str]:
        """The environment pc-release (the demo's promotion, `dagster dev`) runs with in this sandbox."""
        env = {
            "DAGSTER_HOME": str(self.dagster_home),
            "PC_RELEASE_REPO_PATH": str(self.clone),
            "PC_RELEASE_REMOTE": GITLAB_REMOTE,
            "PC_RELEASE_MASTER_BRANCH": MASTER_BRANCH,
            "PC_RELEASE_RELEASE_BRANCH": RELEASE_BRANCH,
            "PC_RELEASE_DIST_DIR": str(self.dist),
            "PC_RELEASE_GITLAB_URL": gitlab_url,
            "PC_RELEASE_GITLAB_PROJECT": PROJECT_PATH,
            TOKEN_ENV: token,
        }
        if "PC_RELEASE_NODE_MODULES" not in os.environ and NODE_MODULES.is_dir():
            env["PC_RELEASE_NODE_MODULES"] = str(NODE_MODULES)
        return env


@contextlib.contextmanager
def sandbox_lock(root: Path) -> Iterator[None]:
    """One demo or ui per sandbox at a time: they would share one GitLab state and one origin."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            raise DemoError(
                f"the sandbox {root} is in use by another demo or ui (pid {holder}); stop it first"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield
        finally:
            lock.seek(0)
            lock.truncate()


def _git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise DemoError(f"git {' '.join(args)} failed in {cwd}: {result.stderr.strip()}")
    return result.stdout.strip()


def reset_sandbox(sandbox: Sandbox) -> None:
    """Empty the sandbox folder (the lock file stays: it is held by the caller)."""
    for child in sandbox.root.iterdir():
        if child.name == ".lock":
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def create_sandbox(sandbox: Sandbox) -> None:
    """A new sandbox: the sample repo on a bare origin (master + release branch), an empty instance."""
    instance_config = PROJECT_ROOT / "dagster.yaml"
    if not instance_config.exists():
        raise DemoError(f"{instance_config} not found: run the demo from a checkout of pc-release")
    create_sample_origin(sandbox.root / "git")
    sandbox.dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(instance_config, sandbox.dagster_home / "dagster.yaml")
    for folder in (sandbox.dist, sandbox.environment, sandbox.gitlab_state):
        folder.mkdir(parents=True, exist_ok=True)


def push_new_master_commit(sandbox: Sandbox) -> str:
    """Bring the sample up to date with its template and push a new master commit: every demo run has a new
    SHA to run CI on and promote, instead of finding the release it made last time."""
    _git(sandbox.clone, "switch", "--quiet", MASTER_BRANCH)
    _git(sandbox.clone, "pull", "--quiet", "--ff-only", "origin", MASTER_BRANCH)
    materialize_sample_repo(sandbox.clone)
    _git(sandbox.clone, "add", "--all")
    runs = int(_git(sandbox.clone, "rev-list", "--count", "HEAD"))
    _git(sandbox.clone, "commit", "--quiet", "--allow-empty", "-m", f"sandbox demo: change {runs}")
    _git(sandbox.clone, "push", "--quiet", "origin", MASTER_BRANCH)
    return _git(sandbox.clone, "rev-parse", "HEAD")


def prepare_sandbox(sandbox: Sandbox, *, reset: bool, new_commit: bool, out: IO[str]) -> str:
    """Create, reset or reuse the sandbox; returns the master SHA to run CI on.

    With `new_commit`, a new master commit is pushed on top, so there is always a new SHA to promote: on a
    new sandbox the release branch stays on the sample's first commit (the "previous release").
    """
    if reset or not sandbox.is_complete():
        if reset:
            why = "reset as asked"
        elif (sandbox.root / "git").exists():
            why = "incomplete, so reset"
        else:
            why = "new"
        reset_sandbox(sandbox)
        create_sandbox(sandbox)
        print(f"sandbox {sandbox.root} ({why}): sample platform-control repo published", file=out)
    else:
        print(f"sandbox {sandbox.root} (reused)", file=out)
    if not new_commit:
        return _git(sandbox.origin, "rev-parse", MASTER_BRANCH)
    sha = push_new_master_commit(sandbox)
    print(f"  pushed a new {MASTER_BRANCH} commit: {sha}", file=out, flush=True)
    return sha


def _job_environment(sandbox: Sandbox, token: str) -> dict[str, str]:
    """The sandbox GitLab's environment, which its jobs inherit: pc-release's venv first on PATH (the
    release-branch guard job runs `pc-release guard`), and the deploy target folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_FOR_JOBS)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PC_SANDBOX_ENVIRONMENT_DIR"] = str(sandbox.environment)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env[TOKEN_ENV] = token
    return env


@dataclass
class GitLabServer:
    """The sandbox GitLab running as its own process (`python -m pc_release.sandbox serve`)."""

    process: subprocess.Popen
    url: str
    pid_file: Path

    @classmethod
    def start(
        cls,
        sandbox: Sandbox,
        token: str,
        port: int,
        timeout: float = 30.0,
        master_ci: tuple[str, ...] = (),
    ) -> GitLabServer:
        """`master_ci`: the serve command's --slow-master-ci / --fail-master-ci arguments, if any."""
        sandbox.gitlab_state.mkdir(parents=True, exist_ok=True)
        _stop_leftover_server(sandbox)
        command = [
            sys.executable,
            "-m",
            "pc_release.sandbox",
            "serve",
            "--origin",
            str(sandbox.origin),
            "--port",
            str(port),
            "--state-dir",
            str(sandbox.gitlab_state),
            "--run-jobs",
            "--watch-branch",
            MASTER_BRANCH,
            "--project-path",
            PROJECT_PATH,
            *master_ci,
        ]
        # In the demo's process group: a Ctrl-C in the terminal stops it too, even if the demo itself is killed.
        with open(sandbox.server_log, "w") as log:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=_job_environment(sandbox, token),
                cwd=sandbox.root,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = sandbox.server_log.read_text(errors="replace").splitlines()
            url = next((line.strip() for line in lines if line.startswith("http://127.0.0.1:")), None)
            if url:
                sandbox.server_pid.write_text(str(process.pid))
                return cls(process, url, sandbox.server_pid)
            if process.poll() is not None:
                log_text = "\n".join(lines[-15:])
                hint = " (pass another --gitlab-port)" if "Address already in use" in log_text else ""
                raise DemoError(f"the sandbox GitLab did not start on port {port}{hint}:\n{log_text}")
            time.sleep(0.1)
        process.kill()
        raise DemoError(f"the sandbox GitLab did not report its URL within {timeout:g}s; see {sandbox.server_log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.pid_file.unlink(missing_ok=True)


def _stop_leftover_server(sandbox: Sandbox) -> None:
    """The sandbox GitLab of a demo or ui that was killed outright (SIGKILL) still holds the port and the state
    folder: stop it, if the recorded pid is still that server (and not some later process with the same pid)."""
    if not sandbox.server_pid.exists():
        return
    pid = int(sandbox.server_pid.read_text().strip() or 0)
    sandbox.server_pid.unlink()
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return
    if b"pc_release.sandbox" not in command or str(sandbox.origin).encode() not in command:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def _running(pid: int) -> bool:
    """True while the process exists and has not exited (a zombie waits only to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@dataclass
class JobProgress:
    """Prints each job of a pipeline as its status changes."""

    out: IO[str]
    seen: dict[int, str] = field(default_factory=dict)

    def update(self, jobs: list[Any]) -> None:
        for job in sorted(jobs, key=lambda j: j.id):
            if self.seen.get(job.id) == job.status:
                continue
            self.seen[job.id] = job.status
            took = f" ({job.duration:.1f}s)" if job.status in TERMINAL and job.duration else ""
            print(f"    {job.stage:<18} {job.name:<44} {job.status}{took}", file=self.out, flush=True)


def _wait(what: str, probe: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise DemoError(f"gave up after {timeout:g}s waiting for {what}")
        time.sleep(POLL_SECONDS)


def _failed_jobs_report(sandbox: Sandbox, jobs: list[Any]) -> str:
    """The failed jobs with the end of their traces, so a red pipeline explains itself."""
    lines = []
    for job in jobs:
        if job.status == "failed" and not job.allow_failure:
            trace = sandbox.trace(job.id)
            tail = trace.read_text(errors="replace").splitlines()[-12:] if trace.exists() else []
            lines.append(f"  job {job.name} failed ({trace}):")
            lines.extend(f"    | {line}" for line in tail)
    return "\n".join(lines)


def wait_for_master_ci(gitlab: Any, sandbox: Sandbox, sha: str, timeout: float, out: IO[str]) -> Any:
    """The master pipeline the push started on `sha`, followed to green; a red one stops the demo."""
    pipeline = _wait(f"the {MASTER_BRANCH} pipeline of {sha}", lambda: gitlab.master_pipeline_for(sha), timeout)
    print(f"master CI: pipeline {pipeline.id} on {sha[:12]}: {pipeline.web_url}", file=out, flush=True)
    progress = JobProgress(out)

    def finished() -> Any:
        current = gitlab.pipeline(pipeline.id)
        progress.update(gitlab.pipeline_jobs(pipeline.id))
        return current if current.status in TERMINAL else None

    final = _wait(f"{MASTER_BRANCH} pipeline {pipeline.id} to finish", finished, timeout)
    if final.status != "success":
        report = _failed_jobs_report(sandbox, gitlab.pipeline_jobs(pipeline.id))
        raise DemoError(f"master pipeline {final.id} ended {final.status}; nothing to promote\n{report}")
    print(f"master CI: pipeline {final.id} is green on {sha}", file=out, flush=True)
    return final


def abandon_stale_runs(instance: Any, out: IO[str]) -> None:
    """Runs left `STARTED` by a demo or ui that was killed: nothing runs them any more (the sandbox lock is
    ours), so mark them failed, which also frees the promotion lock they held."""
    import dagster as dg

    stale = instance.get_runs(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
        )
    )
    for run in stale:
        instance.report_run_failed(run, message="abandoned: the process running it ended before it finished")
        print(f"marked run {run.run_id} ({run.job_name}) failed: its process ended before it finished", file=out)


class PromotionProgress(threading.Thread):
    """Prints the promotion run's steps, materializations and gates from the event log while it runs."""

    def __init__(self, instance: Any, run_id: str, out: IO[str]) -> None:
        super().__init__(name="promotion-progress", daemon=True)
        self._instance, self._run_id, self._out = instance, run_id, out
        self._done = threading.Event()
        self._announced: set[str] = set()
        self._printed = 0

    def run(self) -> None:
        while not self._done.wait(POLL_SECONDS):
            self.flush()

    def flush(self) -> None:
        import dagster as dg

        from pc_release.reporting import summarize_run

        for record in self._instance.all_logs(self._run_id, of_type=dg.DagsterEventType.STEP_START):
            step = record.dagster_event.step_key if record.dagster_event else None
            if step and step not in self._announced:
                self._announced.add(step)
                print(f"  running {step}", file=self._out, flush=True)
        # The summary's last line is its verdict, which only means something once the run has ended.
        lines = summarize_run(self._instance, self._run_id).lines[:-1]
        for line in lines[self._printed :]:
            print(line, file=self._out, flush=True)
        self._printed = max(self._printed, len(lines))

    def stop(self) -> None:
        self._done.set()
        self.join()
        self.flush()


def promote(definitions: Any, instance: Any, sha: str, out: IO[str]) -> dict[str, Any]:
    """What `pc-release promote <sha>` does: the promote_release job in-process on the DAGSTER_HOME instance
    (so the run shows in the UI), followed through its event log while it runs; returns the metadata of the
    release_pipeline it materialized."""
    from pc_release.reporting import summarize_run

    print(f"promotion: promote_release of {sha}", file=out, flush=True)
    run_id = str(uuid.uuid4())
    progress = PromotionProgress(instance, run_id, out)
    progress.start()
    try:
        result = definitions.resolve_job_def("promote_release").execute_in_process(
            run_config={
                "ops": {"source_commit": {"config": {"source_ref": sha}}},
                # The lines printed from the event log say what happened; Dagster's debug log stays in the UI.
                "loggers": {"console": {"config": {"log_level": "WARNING"}}},
            },
            instance=instance,
            run_id=run_id,
            raise_on_error=False,
        )
    finally:
        progress.stop()
    print(summarize_run(instance, run_id).lines[-1], file=out, flush=True)
    if not result.success:
        raise DemoError(f"the promotion of {sha} stopped (run {run_id}); see the gates above")
    from pc_release.defs.verdicts import plain_metadata

    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key.to_user_string() == "release_pipeline":
            return plain_metadata(materialization.metadata)
    raise DemoError(f"promotion run {run_id} succeeded without materializing release_pipeline")


def run_demo(
    root: Path,
    *,
    reset: bool = False,
    gitlab_port: int = DEFAULT_GITLAB_PORT,
    keep_running: bool = False,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    out: IO[str] = sys.stdout,
) -> None:
    """The whole demo; the caller's environment gains the sandbox's pc-release settings (it is meant to run
    as its own process: `python -m pc_release.sandbox.demo demo`)."""
    started = time.monotonic()
    sandbox = Sandbox(root.resolve())
    with sandbox_lock(sandbox.root):
        sha = prepare_sandbox(sandbox, reset=reset, new_commit=True, out=out)
        token = secrets.token_urlsafe(24)
        server = GitLabServer.start(sandbox, token, gitlab_port)
        try:
            print(f"sandbox GitLab: {server.url} (jobs run as local processes; log {sandbox.server_log})", file=out)
            sandbox.connect_to_gitlab(server.url)
            os.environ.update(sandbox.pc_release_env(server.url, token))
            _promote_and_follow(sandbox, sha, timeout, out)
            print(f"demo finished in {time.monotonic() - started:.0f}s", file=out, flush=True)
            if keep_running:
                _serve_until_interrupted(server, sandbox, out)
        finally:
            server.stop()


def _promote_and_follow(sandbox: Sandbox, sha: str, timeout: float, out: IO[str]) -> None:
    import dagster as dg

    from pc_release.definitions import build_definitions
    from pc_release.resources.gitlab import GitLabResource
    from pc_release.settings import Settings

    settings = Settings()
    definitions = build_definitions(settings)
    # The demo's own view of the pipelines, through the same resource (and token) the promotion uses.
    gitlab = GitLabResource(url=settings.gitlab_url, project=settings.gitlab_project, token=os.environ[TOKEN_ENV])
    wait_for_master_ci(gitlab, sandbox, sha, timeout, out)
    with dg.DagsterInstance.get() as instance:
        abandon_stale_runs(instance, out)
        pipeline_meta = promote(definitions, instance, sha, out)
        pipeline_id = int(pipeline_meta["pipeline_id"])
        print(f"release pipeline {pipeline_id}: {pipeline_meta['pipeline_url']}", file=out, flush=True)
        final, record = follow_release_pipeline(definitions, instance, gitlab, pipeline_id, timeout, out)
    print_record(record, out)
    if final.status != "success":
        report = _failed_jobs_report(sandbox, gitlab.pipeline_jobs(pipeline_id))
        raise DemoError(f"release pipeline {pipeline_id} ended {final.status}\n{report}")


def tick_sensor(definitions: Any, instance: Any, cursor: str | None) -> tuple[list[Any], str | None]:
    """One evaluation of release_pipeline_sensor, applied to the instance as the sensor daemon applies it
    (new dynamic partitions first, then the asset events); returns (the events, the new cursor)."""
    import dagster as dg

    sensor = definitions.resolve_sensor_def(SENSOR_NAME)
    # With its definitions, as the daemon evaluates it: a sensor with an asset selection resolves it against them.
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=definitions.resources, definitions=definitions
    ) as context:
        data = sensor.evaluate_tick(context)
    if data.run_requests:
        raise DemoError(f"{SENSOR_NAME} asked for runs; the demo only applies the asset events it reports")
    for request in data.dynamic_partitions_requests or []:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)
    for event in data.asset_events or []:
        instance.report_runless_asset_event(event)
    return list(data.asset_events or []), data.cursor


def _describe(event: Any) -> str | None:
    """A progress line for a materialization or observation the sensor reported (check evaluations go into the
    record). A release record that is not a release is an observation, never a materialization."""
    import dagster as dg

    from pc_release.defs.verdicts import plain_metadata

    if isinstance(event, dg.AssetMaterialization):
        verb = "materialized"
    elif isinstance(event, dg.AssetObservation):
        verb = "observed"
    else:
        return None
    name = event.asset_key.to_user_string()
    if event.partition:
        name += f"[{event.partition}]"
    metadata = plain_metadata(event.metadata)
    status = metadata.get("stage_status") or metadata.get("status")
    return f"  {SENSOR_NAME}: {verb} {name}" + (f" ({status})" if status else "")


def follow_release_pipeline(
    definitions: Any, instance: Any, gitlab: Any, pipeline_id: int, timeout: float, out: IO[str]
) -> tuple[Any, dict[str, Any]]:
    """Tick release_pipeline_sensor until it records the pipeline, showing the jobs and the stage assets as
    they change; returns (the final pipeline, the release record's metadata)."""
    from pc_release.defs.verdicts import plain_metadata

    progress = JobProgress(out)
    cursor: str | None = None
    record: dict[str, Any] = {}

    def recorded() -> bool:
        nonlocal cursor
        progress.update(gitlab.pipeline_jobs(pipeline_id))
        events, cursor = tick_sensor(definitions, instance, cursor)
        for event in events:
            line = _describe(event)
            if line is None:
                continue
            print(line, file=out, flush=True)
            metadata = plain_metadata(event.metadata)
            if event.asset_key.to_user_string() == "release_record" and metadata.get("pipeline_id") == pipeline_id:
                record.update(metadata)
        return bool(record)

    _wait(f"{SENSOR_NAME} to record release pipeline {pipeline_id}", recorded, timeout)
    final = gitlab.pipeline(pipeline_id)
    print(f"release pipeline {pipeline_id}: {final.status}", file=out, flush=True)
    return final, record


def print_record(record: dict[str, Any], out: IO[str]) -> None:
    """The whole record, rendered from its JSON file: the UI's `record` entry is only its headline (the gates,
    stages and checklist are tables there)."""
    from pc_release.defs.pipeline.record import ReleaseRecord, render_markdown

    path = Path(str(record.get("path", "")))
    text = str(record.get("record", ""))
    if record.get("path") and path.is_file():
        text = render_markdown(ReleaseRecord.model_validate_json(path.read_text()))
    print("", file=out)
    print(f"release record (JSON: {record.get('path', '?')}):", file=out)
    print("", file=out)
    print(text.rstrip(), file=out)
    print("", file=out, flush=True)


def _serve_until_interrupted(server: GitLabServer, sandbox: Sandbox, out: IO[str]) -> None:
    print(
        f"sandbox GitLab still serving at {server.url}: pushes to {MASTER_BRANCH} of {sandbox.clone} start "
        "pipelines (traces in gitlab/traces/). Ctrl-C to stop.",
        file=out,
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.process.wait()


def _url_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def run_ui(
    root: Path,
    *,
    port: int = DEFAULT_UI_PORT,
    gitlab_port: int = DEFAULT_GITLAB_PORT,
    slow_master_ci: float = 0.0,
    fail_master_ci: bool = False,
    out: IO[str] = sys.stdout,
) -> int:
    """`dagster dev` on the sandbox's instance and settings, with the sandbox GitLab beside it, until
    interrupted (Ctrl-C or SIGTERM). `slow_master_ci` / `fail_master_ci` hold or fail the master pipelines of
    pushes made meanwhile, to watch a promotion launched before master CI is green."""
    sandbox = Sandbox(root.resolve())
    with sandbox_lock(sandbox.root):
        prepare_sandbox(sandbox, reset=False, new_commit=False, out=out)
        token = os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(24)
        master_ci = ["--slow-master-ci", str(slow_master_ci)] if slow_master_ci else []
        if fail_master_ci:
            master_ci.append("--fail-master-ci")
        server = GitLabServer.start(sandbox, token, gitlab_port, master_ci=tuple(master_ci))
        dagster: subprocess.Popen | None = None
        try:
            print(f"sandbox GitLab: {server.url}", file=out, flush=True)
            sandbox.connect_to_gitlab(server.url)
            env = {**os.environ, **sandbox.pc_release_env(server.url, token)}
            dagster_cli = Path(sys.executable).parent / "dagster"
            workspace = PROJECT_ROOT / "workspace.yaml"
            command = [str(dagster_cli), "dev", "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)]
            # dagster dev maps SIGTERM onto its SIGINT handler, so it ignores SIGTERM when it starts with SIGINT
            # ignored (as a background job of a shell without `set -m` does). main() gives this process a
            # SIGINT handler, which exec resets to the default in the child: dagster dev stops on SIGTERM, and
            # in this process group on the terminal's Ctrl-C too. It runs in DAGSTER_HOME, so that the
            # instance's dagster.yaml is the one beside it.
            dagster = subprocess.Popen(command, cwd=sandbox.dagster_home, env=env, stdin=subprocess.DEVNULL)
            url = f"http://127.0.0.1:{port}"
            print(f"Dagster UI starting at {url} (DAGSTER_HOME={sandbox.dagster_home})", file=out, flush=True)
            _wait("the Dagster UI", lambda: dagster.poll() is not None or _url_answers(f"{url}/server_info"), 180)
            if dagster.poll() is not None:
                raise DemoError(f"dagster dev exited with code {dagster.returncode}")
            print(f"Dagster UI ready at {url}  (Ctrl-C to stop)", file=out, flush=True)
            return dagster.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            if dagster is not None:
                _stop_dagster_dev(dagster)
            server.stop()


def _stop_dagster_dev(process: subprocess.Popen) -> None:
    """SIGTERM, on which dagster dev shuts its webserver, daemon and code servers down; SIGKILL if it hangs."""
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _raise_keyboard_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pc_release.sandbox.demo", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="sample repo -> master CI -> promotion -> release pipeline -> record")
    ui = commands.add_parser("ui", help="dagster dev on the sandbox, with the sandbox GitLab running")
    for sub in (demo, ui):
        sub.add_argument("--sandbox", type=Path, default=Path(".sandbox"), help="sandbox folder (./.sandbox)")
        sub.add_argument("--gitlab-port", type=int, default=DEFAULT_GITLAB_PORT, help="sandbox GitLab port")
    demo.add_argument("--reset", action="store_true", help="start from a new sandbox instead of reusing it")
    demo.add_argument("--keep-running", action="store_true", help="keep the sandbox GitLab serving afterwards")
    demo.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="seconds per wait")
    ui.add_argument("--port", type=int, default=DEFAULT_UI_PORT, help="Dagster UI port")
    ui.add_argument(
        "--slow-master-ci",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="hold each new master pipeline running for SECONDS (launch a promotion before CI is green)",
    )
    ui.add_argument("--fail-master-ci", action="store_true", help="fail every new master pipeline")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # SIGTERM stops the demo as Ctrl-C does, so the sandbox GitLab and dagster dev are stopped in order.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        if args.command == "ui":
            return run_ui(
                args.sandbox,
                port=args.port,
                gitlab_port=args.gitlab_port,
                slow_master_ci=args.slow_master_ci,
                fail_master_ci=args.fail_master_ci,
            )
        run_demo(
            args.sandbox,
            reset=args.reset,
            gitlab_port=args.gitlab_port,
            keep_running=args.keep_running,
            timeout=args.timeout,
        )
        return 0
    except (DemoError, PcReleaseError) as err:
        print(f"pc-release demo: FAILED: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("pc-release demo: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
