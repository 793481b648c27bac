"""Git facts outside the candidate tree: the operator's release worktree and the canonical remotes."""

from __future__ import annotations

from pathlib import Path

from pc_release.gitread import GitOutput, GitReader, stderr_excerpt
from pc_release.readiness.models import RemoteState, WorktreeState


def _git(repo: Path, *args: str) -> GitOutput:
    """Any exit status is an answer here: each caller turns a failure into the state's `error`."""
    return GitReader(repo).run(*args, ok=None)


def release_worktree_state(path: str | None) -> WorktreeState:
    """Uncommitted changes and commits pushed nowhere in the operator's release worktree."""
    if not path:
        return WorktreeState()
    worktree = Path(path)
    if not worktree.is_dir():
        return WorktreeState(configured=True, path=path, error="the configured release worktree does not exist")
    porcelain = _git(worktree, "status", "--porcelain=v1", "--untracked-files=normal")
    if porcelain.status != 0:
        return WorktreeState(configured=True, path=path, error=f"not a git worktree: {stderr_excerpt(porcelain.err)}")
    dirty = [line.strip() for line in porcelain.out.splitlines() if line.strip()]
    unpushed = _git(worktree, "log", "--format=%H %s", "HEAD", "--not", "--remotes")
    commits = [line for line in unpushed.out.splitlines() if line.strip()] if unpushed.status == 0 else []
    return WorktreeState(configured=True, path=path, dirty=dirty, unpushed=commits)


def remote_master_state(repo: Path, remote: str, master_branch: str, sha: str) -> RemoteState:
    """Whether `remote`'s master contains `sha` right now (asks the remote, then fetches to compare)."""
    listed = _git(repo, "ls-remote", "--heads", remote, f"refs/heads/{master_branch}")
    if listed.status != 0:
        return RemoteState(remote=remote, error=f"cannot reach the remote: {stderr_excerpt(listed.err)}")
    if not listed.out.strip():
        return RemoteState(remote=remote, error=f"the remote has no {master_branch} branch")
    head = listed.out.split()[0]
    if head == sha:
        return RemoteState(remote=remote, master_sha=head, contains=True)
    fetched = _git(repo, "fetch", "--quiet", "--no-write-fetch-head", remote, f"refs/heads/{master_branch}")
    if fetched.status != 0:
        return RemoteState(
            remote=remote, master_sha=head, error=f"cannot fetch its {master_branch}: {stderr_excerpt(fetched.err)}"
        )
    contains = _git(repo, "merge-base", "--is-ancestor", sha, head).status == 0
    return RemoteState(remote=remote, master_sha=head, contains=contains)
