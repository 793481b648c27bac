"""ReleaseFilesResource: the release candidate env and records pc-release hands off, written atomically."""

from __future__ import annotations

import fcntl
import hashlib
import json
import multiprocessing
import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from pc_release.errors import InvalidInput, PromotionBlocked
from pc_release.models import ReleaseCandidate
from pc_release.processes import ProcessId

CANDIDATE_FILE = "platform-control-release-candidate.env"
LOCK_FILE = ".promotion.lock"


def atomic_write(path: Path, content: str | bytes, *, durable: bool = True) -> None:
    """Write via a temp file and rename, so readers never see half a file; `durable` also fsyncs it first
    (for what must survive a machine crash, not only a killed process)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        data = content.encode("utf-8") if isinstance(content, str) else content
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def render_env(values: dict[str, str]) -> str:
    lines = []
    for key, value in values.items():
        if "\n" in value or "\r" in value:
            raise InvalidInput(f"{key} would span lines in the candidate env", rule="candidate-env")
        quoted = value if value and all(c.isalnum() or c in "-_./:@+=," for c in value) else json.dumps(value)
        lines.append(f"{key}={quoted}")
    return "\n".join(lines) + "\n"


def parse_env(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = json.loads(value) if value.startswith('"') else value
    return values


def _run_process() -> ProcessId:
    """The process running the whole promotion. Dagster's multiprocess executor (runs launched from the UI,
    a sensor or the queue) runs each step in a child of it that exits with the step; the lock outlives
    source_commit's step, so it names that parent."""
    parent = multiprocessing.parent_process()
    return (ProcessId.of(parent.pid) if parent is not None else None) or ProcessId.current()


def _process_gone(holder: dict) -> bool:
    """True only for a holder that ran on this host and whose process no longer runs: no process has its pid,
    or the one that has it started at another time (the pid was handed on), or the host rebooted since."""
    if holder.get("host") != socket.gethostname():
        return False
    try:
        process = ProcessId(pid=int(holder["pid"]), start=int(holder["start"]), boot=str(holder["boot"]))
    except (KeyError, TypeError, ValueError):
        return False  # not a lock this version wrote: its run's status decides
    return not process.running()


class ReleaseFilesResource(dg.ConfigurableResource):
    """The dist/ folder beside the clone: candidate env and release records live here."""

    dist_dir: str

    @property
    def candidate_path(self) -> Path:
        return Path(self.dist_dir) / CANDIDATE_FILE

    def write_candidate(self, values: dict[str, str]) -> ReleaseCandidate:
        content = render_env(values)
        atomic_write(self.candidate_path, content)
        return ReleaseCandidate(
            path=str(self.candidate_path),
            sha=values["PLATFORM_CONTROL_RELEASE_SHA"],
            content_sha256=hashlib.sha256(content.encode()).hexdigest(),
            values=values,
        )

    def read_candidate(self) -> dict[str, str] | None:
        path = self.candidate_path
        return parse_env(path.read_text(encoding="utf-8")) if path.exists() else None

    def write_json(self, name: str, payload: dict) -> Path:
        path = Path(self.dist_dir) / name
        atomic_write(path, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
        return path

    @contextmanager
    def _lock_guard(self) -> Iterator[Path]:
        # flock serializes the read-check-write of the lock file across processes and threads alike.
        lock = Path(self.dist_dir) / LOCK_FILE
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock.with_suffix(".guard"), "a+") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            try:
                yield lock
            finally:
                fcntl.flock(guard, fcntl.LOCK_UN)

    def acquire_promotion_lock(self, run_id: str, sha: str, holder_finished: Callable[[str], bool]) -> str | None:
        """One promotion at a time per clone, even for runs that bypass the Dagster run queue.

        A lock left by a run that has finished (failed, or killed and marked so) is taken over, and so is
        one whose process on this host is gone: a promotion killed with SIGKILL never records its end, and
        its lock must not refuse every re-run for ever, even once its pid belongs to another process. A lock
        held by a live run refuses this one, naming that run. Returns the id of a holder taken over while
        still recorded as in progress, if any.
        """
        abandoned = None
        with self._lock_guard() as lock:
            if lock.exists():
                holder = json.loads(lock.read_text() or "{}")
                holder_run = holder.get("run_id", "")
                if holder_run and holder_run != run_id and not holder_finished(holder_run):
                    if not _process_gone(holder):
                        raise PromotionBlocked(
                            f"promotion in progress: run {holder_run} is promoting {holder.get('sha', '?')} since "
                            f"{holder.get('since', '?')}; wait for it to finish",
                            rule="promotion-in-progress",
                        )
                    abandoned = holder_run
            process = _run_process()
            record = {
                "run_id": run_id,
                "sha": sha,
                "pid": process.pid,
                "start": process.start,
                "boot": process.boot,
                "host": socket.gethostname(),
                "since": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            atomic_write(lock, json.dumps(record))
        return abandoned

    def release_promotion_lock(self, run_id: str) -> None:
        with self._lock_guard() as lock:
            if lock.exists() and json.loads(lock.read_text() or "{}").get("run_id") == run_id:
                lock.unlink()
