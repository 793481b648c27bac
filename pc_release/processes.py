"""Processes pc-release starts and what they leave behind, for a process that may be killed outright (SIGKILL, OOM).

A process is known by its pid *and* its start time: a pid alone is handed to another process once its owner is
gone. Every command pc-release runs for a check carries a mark in its environment, which whatever it starts inherits
(also the browser and web server Playwright starts in sessions of their own); a reaper process kills every
marked process as soon as the process that marked them dies, however it dies. The reaper runs this module
(`python -m pc_release.processes`), which imports nothing but the standard library, so that it starts fast.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

MARK_VARIABLE = "PC_RELEASE_STARTED_BY"
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _boot() -> str:
    # Start times count from boot: after a reboot the same pid and start time may well be another process.
    # Eight hex digits tell boots apart and keep names short (the throwaway PostgreSQL's socket lives in one).
    return _BOOT_ID.read_text().strip()[:8]


def _start_of(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat, when the process started (clock ticks after boot); None once it has exited
    (a zombie has: it only waits for its parent to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name before ")" may hold spaces and parentheses
    return None if fields[0] in ("Z", "X") else int(fields[19])


@dataclass(frozen=True)
class ProcessId:
    """One process for its whole life, on one host."""

    pid: int
    start: int
    boot: str

    @classmethod
    def of(cls, pid: int) -> ProcessId | None:
        start = _start_of(pid)
        return None if start is None else cls(pid, start, _boot())

    @classmethod
    def current(cls) -> ProcessId:
        return cls(os.getpid(), _start_of(os.getpid()) or 0, _boot())

    def running(self) -> bool:
        return self.boot == _boot() and _start_of(self.pid) == self.start

    @property
    def tag(self) -> str:
        """The process in a file name: `pid-start-boot`."""
        return f"{self.pid}-{self.start}-{self.boot}"

    @classmethod
    def from_tag(cls, name: str) -> ProcessId | None:
        """The process a name starting with its tag belongs to (anything after a further "-" is ignored)."""
        pid, start, boot, *_ = [*name.split("-"), "", "", ""]
        if not (pid.isdigit() and start.isdigit() and boot.isalnum()):
            return None
        return cls(int(pid), int(start), boot)


_serial = itertools.count(1)
_reaper_lock = threading.Lock()
_reaper: tuple[ProcessId, subprocess.Popen] | None = None


def marked(env: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """`env` plus a mark unique to one child: it and whatever it starts die with this process."""
    owner = _ensure_reaper()
    mark = f"{owner.tag}/{next(_serial)}"
    return {**env, MARK_VARIABLE: mark}, mark


def kill_marked(mark: str) -> None:
    """Kill every process carrying `mark`: the child it was given to and whatever that started, in any session."""
    _kill_where(lambda value: value == mark)


def _ensure_reaper() -> ProcessId:
    global _reaper
    owner = ProcessId.current()
    with _reaper_lock:
        # A forked child inherits the parent's reaper, which watches the parent: it needs its own.
        if _reaper is None or _reaper[0] != owner:
            # Its own session keeps it out of a terminal's Ctrl-C; its environment carries none of our secrets.
            reaper = subprocess.Popen(
                [sys.executable, "-m", __name__, owner.tag],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                env={"PYTHONPATH": os.pathsep.join(path for path in sys.path if path)},
            )
            _reaper = (owner, reaper)
    return owner


def _marks() -> Iterator[tuple[int, int, str]]:
    """(pid, start, mark) of every marked process this user may read."""
    entry = f"{MARK_VARIABLE}=".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        start = _start_of(int(proc.name))
        for item in environ.split(b"\0"):
            if item.startswith(entry) and start is not None:
                yield int(proc.name), start, item[len(entry) :].decode(errors="replace")


def _kill_where(matches: Callable[[str], bool]) -> None:
    killed: set[tuple[int, int]] = set()
    while True:
        # Sweep again for children forked while the first ones were being killed; a killed one forks no more.
        found = {(pid, start) for pid, start, mark in _marks() if matches(mark)} - killed
        if not found:
            return
        for pid, _ in found:
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        killed |= found


def _reap(owner_tag: str) -> None:
    """The reaper's whole life: wait until its owner is gone (its end of the pipe closes), kill what it marked."""
    while os.read(0, 65536):
        pass
    _kill_where(lambda mark: mark.startswith(f"{owner_tag}/"))


if __name__ == "__main__":
    _reap(sys.argv[1])
