"""Git facts outside the candidate tree: the operator's release worktree and the canonical remotes."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pc_release.readiness.models import RemoteState, WorktreeState


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)


def release_worktree_state(path: str | None) -> WorktreeState:
    """Uncommitted changes and commits pushed nowhere in the operator's release worktree."""
    if not path:
        return WorktreeState()
    worktree = Path(path)
    if not worktree.is_dir():
        return WorktreeState(configured=True, path=path, error="the configured release worktree does not exist")
    status = _git(worktree, "status", "--porcelain=v1", "--untracked-files=normal")
    if status.returncode != 0:
        return WorktreeState(configured=True, path=path, error=f"not a git worktree: {status.stderr.strip()}")
    dirty = [line.strip() for line in status.stdout.splitlines() if line.strip()]
    unpushed = _git(worktree, "log", "--format=%H %s", "HEAD", "--not", "--remotes")
    commits = [line for line in unpushed.stdout.splitlines() if line.strip()] if unpushed.returncode == 0 else []
    return WorktreeState(configured=True, path=path, dirty=dirty, unpushed=commits)


def remote_master_state(repo: Path, remote: str, master_branch: str, sha: str) -> RemoteState:
    """Whether `remote`'s master contains `sha` right now (asks the remote, then fetches to compare)."""
    listed = _git(repo, "ls-remote", "--heads", remote, f"refs/heads/{master_branch}")
    if listed.returncode != 0:
        return RemoteState(remote=remote, error=f"cannot reach the remote: {listed.stderr.strip()}")
    if not listed.stdout.strip():
        return RemoteState(remote=remote, error=f"the remote has no {master_branch} branch")
    head = listed.stdout.split()[0]
    if head == sha:
        return RemoteState(remote=remote, master_sha=head, contains=True)
    fetched = _git(repo, "fetch", "--quiet", "--no-write-fetch-head", remote, f"refs/heads/{master_branch}")
    if fetched.returncode != 0:
        return RemoteState(
            remote=remote, master_sha=head, error=f"cannot fetch its {master_branch}: {fetched.stderr.strip()}"
        )
    contains = _git(repo, "merge-base", "--is-ancestor", sha, head).returncode == 0
    return RemoteState(remote=remote, master_sha=head, contains=contains)
