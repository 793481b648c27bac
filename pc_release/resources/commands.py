"""CommandRunnerResource: runs preflight commands in throwaway git worktrees of the promoted SHA.

Each command sees exactly the promoted commit (never the operator's working tree), with an environment that
never carries the GitLab token. Whatever it starts is killed when it ends or times out, and when pc-release
itself dies (pc_release.processes). Worktrees live in a directory pc-release owns, one subdirectory per
process named after it, so that a later run removes those of a process killed before it could.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

import dagster as dg
from pydantic import Field

from pc_release import processes
from pc_release.errors import ConfigurationError, GitOperationError, InvalidInput, redact
from pc_release.preflight.models import CommandResult
from pc_release.processes import ProcessId
from pc_release.resources.gitlab import TOKEN_ENV_VAR

# `git worktree add/remove` edit the clone's shared worktree list; one at a time keeps that list consistent.
_WORKTREE_LOCK = threading.Lock()
_STOP_GRACE_SECONDS = 5.0


# pc-release's own secrets: a repo's preflight or codegen command never needs them.
SECRET_VARIABLES = (TOKEN_ENV_VAR, "PC_RELEASE_POSTGRES_URL", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_URL")


def child_environment(extra: Mapping[str, str], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a check: ours plus `extra`, minus pc-release's secrets and any variable carrying one."""
    source = os.environ if base is None else base
    secrets = [source[name] for name in SECRET_VARIABLES if source.get(name)]
    env = {**source, **extra}
    return {
        key: value
        for key, value in env.items()
        if key not in SECRET_VARIABLES and not any(secret in value for secret in secrets)
    }


def inside(root: Path, relative: str, what: str) -> Path:
    """`root/relative`, refusing paths that would leave the worktree."""
    normal = posixpath.normpath(relative)
    if normal.startswith("../") or normal == ".." or posixpath.isabs(normal):
        raise InvalidInput(f"{what} {relative!r} must stay inside the repository", rule="preflight-config")
    return root / normal


class CommandRunnerResource(dg.ConfigurableResource):
    """Where and how preflight commands run."""

    env: dict[str, str] = Field(
        default_factory=dict,
        description="Variables added to every check's environment, e.g. PC_RELEASE_NODE_MODULES.",
    )
    work_dir: str | None = Field(
        None,
        description="The directory of the temporary worktrees, pc-release's alone; "
        "default <temp dir>/pc-release-worktrees-<uid>.",
    )
    output_limit_bytes: int = Field(2_000_000, gt=0, description="Output kept per command (the end of it).")

    @contextmanager
    def worktree(self, repo_path: str | Path, sha: str) -> Iterator[Path]:
        """A detached worktree of `sha` from the clone at `repo_path`, removed (with anything written) on exit."""
        repo = Path(repo_path)
        owned = self._owned_dir()
        with _WORKTREE_LOCK:
            _remove_abandoned(owned, repo)
            parent = Path(tempfile.mkdtemp(prefix=f"{ProcessId.current().tag}-", dir=owned))
            path = parent / sha[:12]
            added = subprocess.run(
                ["git", "-C", str(repo), "worktree", "add", "--detach", "--quiet", str(path), sha],
                capture_output=True,
                text=True,
            )
        if added.returncode != 0:
            shutil.rmtree(parent, ignore_errors=True)
            raise GitOperationError(f"git worktree add {sha} failed: {added.stderr.strip()}", rule="preflight-worktree")
        try:
            yield path
        finally:
            with _WORKTREE_LOCK:
                subprocess.run(
                    ["git", "-C", str(repo), "worktree", "remove", "--force", str(path)], capture_output=True
                )
                shutil.rmtree(parent, ignore_errors=True)
                subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True)

    def _owned_dir(self) -> Path:
        owned = Path(self.work_dir or Path(tempfile.gettempdir()) / f"pc-release-worktrees-{os.getuid()}")
        owned.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Under a shared temp dir someone else could have made it first, to read or plant worktrees.
        info = owned.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise ConfigurationError(f"{owned} is not a directory of this user's", rule="preflight-worktree")
        return owned

    def run(self, command: list[str], *, cwd: Path, env: Mapping[str, str], timeout: float) -> CommandResult:
        """Run `command` from `cwd`; stdout and stderr go to one file so a chatty child can never block on a pipe."""
        environment, mark = processes.marked(child_environment({**self.env, **env}))
        token = os.environ.get(TOKEN_ENV_VAR)
        with tempfile.TemporaryFile(mode="w+b") as log:
            started = time.monotonic()
            try:
                process = subprocess.Popen(
                    command,
                    cwd=cwd,
                    env=environment,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as err:
                return CommandResult(
                    command=command,
                    cwd=str(cwd),
                    workdir=str(cwd),
                    started=False,
                    output=redact(f"cannot execute {command[0]!r}: {err.strerror or err}", token),
                )
            timed_out = False
            try:
                exit_code: int | None = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                exit_code = self._stop(process)
            finally:
                # Whatever the command left running goes with it: its process group, and what left the group
                # (Playwright starts the browser and the web server in sessions of their own).
                _signal_group(process.pid, signal.SIGKILL)
                processes.kill_marked(mark)
            duration = time.monotonic() - started
            log.seek(0, os.SEEK_END)
            size = log.tell()
            log.seek(max(0, size - self.output_limit_bytes))
            output = log.read().decode("utf-8", errors="replace")
        return CommandResult(
            command=command,
            cwd=str(cwd),
            workdir=str(cwd),
            exit_code=exit_code,
            timed_out=timed_out,
            timeout_seconds=timeout,
            duration_seconds=duration,
            output=redact(output, token),
        )

    @staticmethod
    def _stop(process: subprocess.Popen) -> int | None:
        _signal_group(process.pid, signal.SIGTERM)
        try:
            return process.wait(timeout=_STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            return process.wait()

    def run_in_worktree(
        self,
        repo_path: str | Path,
        sha: str,
        command: list[str],
        *,
        cwd: str = ".",
        env: Mapping[str, str] | None = None,
        timeout: float,
        collect: list[str] | None = None,
    ) -> CommandResult:
        """Run `command` in a fresh worktree of `sha` and read back the files named in `collect` before removal."""
        with self.worktree(repo_path, sha) as root:
            workdir = inside(root, cwd, "working directory")
            targets = {name: inside(root, name, "report path") for name in collect or []}
            if not workdir.is_dir():
                raise InvalidInput(f"working directory {cwd!r} does not exist at {sha}", rule="preflight-config")
            result = self.run(command, cwd=workdir, env=env or {}, timeout=timeout)
            files = {
                name: path.read_text(errors="replace") if path.is_file() else None for name, path in targets.items()
            }
            return result.model_copy(update={"cwd": cwd, "workdir": str(root), "files": files})


def _remove_abandoned(owned: Path, repo: Path) -> None:
    """Remove the worktrees of processes that are gone (killed before their `finally` ran), and unregister them."""
    for parent in owned.iterdir():
        owner = ProcessId.from_tag(parent.name)
        if owner is None or owner.running():
            continue
        # Another run may be removing the same leftovers at the same time: whatever is already gone is fine.
        with suppress(OSError):
            for tree in parent.iterdir():
                _unregister(tree)
        shutil.rmtree(parent, ignore_errors=True)
    subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True)


def _unregister(tree: Path) -> None:
    # A worktree's .git file names its clone: "gitdir: <clone>/.git/worktrees/<name>". A worktree killed while
    # `git worktree add` ran is still locked ("initializing"), hence the second --force.
    with suppress(OSError, IndexError):
        common = Path((tree / ".git").read_text().removeprefix("gitdir:").strip()).parents[1]
        subprocess.run(
            ["git", "--git-dir", str(common), "worktree", "remove", "--force", "--force", str(tree)],
            capture_output=True,
        )


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
