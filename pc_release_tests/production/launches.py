"""Promotions launched at once from separate processes, as operators and run workers launch them.

Threads in one process are not an option: every `execute_in_process` reconfigures `logging` through
`logging.config.dictConfig`, which deadlocks against another run's event-log handler that is writing to the
instance. Real promotions are separate processes anyway (a `pc-release` CLI each, or one run worker each).
Children come from a forkserver that has imported pc-release once, so a launch costs a fork, not an import.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from pc_release.definitions import build_definitions
from pc_release.resources.files import ReleaseFilesResource
from pc_release.resources.git import GitClone, GitResource
from pc_release.settings import Settings

PROJECT = "platform/platform-control"
_SETTLE_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class Launch:
    """One promotion request, from one process."""

    source_ref: str
    repo_path: str
    dist_dir: str
    gitlab_url: str
    dagster_home: str
    result_path: str
    env: dict[str, str] = field(default_factory=dict)


class _Settlement:
    """Counts launches that reached the push or ended, so that every push waits for all of them.

    Twenty launches "at once" overlap only if none finishes before the last has started; holding each push
    until every launch has either reached its own push or ended makes that overlap certain, the way a real
    promotion (minutes long) overlaps anything launched in the same second.
    """

    def __init__(self, counter, expected: int) -> None:
        self.counter = counter
        self.expected = expected
        self.settled = False

    def settle(self) -> None:
        if not self.settled:
            self.settled = True
            with self.counter.get_lock():
                self.counter.value += 1

    def wait_for_everyone(self) -> None:
        self.settle()
        deadline = time.monotonic() + _SETTLE_TIMEOUT_SECONDS
        while self.counter.value < self.expected and time.monotonic() < deadline:
            time.sleep(0.02)


_settlement: _Settlement | None = None


class _HeldClone(GitClone):
    def push_release(self, sha: str, expected: str | None) -> bool:
        if _settlement is not None:
            _settlement.wait_for_everyone()
        return super().push_release(sha, expected)


class HeldGit(GitResource):
    """The real git resource, whose push waits until every launch has settled."""

    def clone(self) -> GitClone:
        return _HeldClone(Path(self.repo_path), self.remote, self.master_branch, self.release_branch)


def _promote(launch: Launch, counter, expected: int) -> None:
    global _settlement
    _settlement = _Settlement(counter, expected)
    # A forked child has the forkserver's environment, from whenever that started: reset the policy's.
    for name in [name for name in os.environ if name.startswith(("PLATFORM_CONTROL_", "PC_RELEASE_"))]:
        del os.environ[name]
    os.environ.update(launch.env)
    try:
        settings = Settings(
            repo_path=Path(launch.repo_path),
            gitlab_url=launch.gitlab_url,
            gitlab_project=PROJECT,
            dist_dir=Path(launch.dist_dir),
        )
        defs = build_definitions(settings, {"git": HeldGit(repo_path=launch.repo_path)})
        with dg.DagsterInstance.from_config(launch.dagster_home) as instance:
            result = defs.resolve_job_def("promote_release").execute_in_process(
                run_config={"ops": {"source_commit": {"config": {"source_ref": launch.source_ref}}}},
                instance=instance,
                raise_on_error=False,
            )
        Path(launch.result_path).write_text(json.dumps({"run_id": result.run_id, "success": result.success}))
    finally:
        _settlement.settle()


def _forkserver():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, "dagster_postgres"])
    return context


def _take_lock(dist_dir: str, run_id: str) -> None:
    ReleaseFilesResource(dist_dir=dist_dir).acquire_promotion_lock(run_id, "0" * 40, lambda _: False)


def take_lock_in_child_process(dist_dir: str, run_id: str) -> None:
    """Take the promotion lock from a child process that then exits, as a multiprocess-executor step does."""
    step = _forkserver().Process(target=_take_lock, args=(dist_dir, run_id))
    step.start()
    step.join(timeout=60)
    if step.exitcode != 0:
        raise RuntimeError(f"the step process failed taking the lock (exit {step.exitcode})")


def launch_at_once(launches: list[Launch]) -> list[dict]:
    """Start every launch in its own process, wait for all, and return each one's {run_id, success}."""
    context = _forkserver()
    counter = context.Value("i", 0)
    processes = [context.Process(target=_promote, args=(launch, counter, len(launches))) for launch in launches]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=_SETTLE_TIMEOUT_SECONDS + 60)
    outcomes = []
    for launch, process in zip(launches, processes, strict=True):
        if process.is_alive():
            process.kill()
        path = Path(launch.result_path)
        outcomes.append(json.loads(path.read_text()) if path.exists() else {"exitcode": process.exitcode})
    return outcomes
