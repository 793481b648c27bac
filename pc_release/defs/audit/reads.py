"""Bounded git reads behind the drift audit, the promotion plan and the master CI sensor.

Each method is one git command whose output is bounded by a limit or by the size of the difference it
describes, never by the length of history, so an hourly audit stays cheap on a repository of any age.
"""

from __future__ import annotations

from datetime import datetime

from pc_release.models import CommitInfo
from pc_release.release_config import DEFAULT_RELEASE_CONFIG, RELEASE_CONFIG_PATH, ReleaseConfig, load_release_config
from pc_release.resources.git import GitClone

_FORMAT = "--format=%H%x1f%an%x1f%cI%x1f%s"


def _commits(output: str) -> list[CommitInfo]:
    commits = []
    for line in output.splitlines():
        if line.strip():
            sha, author, committed, subject = line.split("\x1f", 3)
            commits.append(
                CommitInfo(sha=sha, author=author, committed_at=datetime.fromisoformat(committed), subject=subject)
            )
    return commits


class GitReads:
    """Read-only git commands on a promotion clone; `commands` keeps every argv run, in order."""

    def __init__(self, clone: GitClone) -> None:
        self.clone = clone
        self.commands: list[tuple[str, ...]] = []

    def _run(self, *args: str, ok: tuple[int, ...] = (0,)) -> tuple[int, str]:
        self.commands.append(args)
        result = self.clone.reader.run(*args, ok=ok)
        return result.status, result.out

    def fetch(self) -> None:
        """The promotion's own fetch (every branch, a shallow clone deepened), so both judge the same refs."""
        self.commands.append(("fetch", self.clone.remote))
        self.clone.fetch()

    def remote_heads(self) -> tuple[str | None, str | None]:
        """(master, release) as the remote has them now: one `git ls-remote`, no fetch."""
        master, release = (f"refs/heads/{b}" for b in (self.clone.master_branch, self.clone.release_branch))
        _, out = self._run("ls-remote", "--heads", self.clone.remote, master, release)
        heads = {ref: sha for sha, ref in (line.split("\t", 1) for line in out.splitlines() if "\t" in line)}
        return heads.get(master), heads.get(release)

    def fetch_commits(self, *shas: str) -> None:
        """Bring these branch tips here if the clone lacks them, moving no ref: unlike `fetch`, it never contends
        with a promotion's fetch for the clone's refs, so a sensor may run it beside one."""
        missing = [sha for sha in shas if self._run("cat-file", "-e", f"{sha}^{{commit}}", ok=(0, 1, 128))[0] != 0]
        if missing:
            self.commands.append(("fetch", self.clone.remote, *missing))
            self.clone.reader.fetch(self.clone.remote, *missing)

    def tips(self) -> tuple[str | None, str | None]:
        """(master, release) from the remote-tracking refs, as the last fetch left them."""
        master, release = self.clone.master_ref, self.clone.release_ref
        _, out = self._run("for-each-ref", "--format=%(refname) %(objectname)", master, release)
        refs = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
        return refs.get(master), refs.get(release)

    def commits(self, *shas: str) -> dict[str, CommitInfo]:
        """Commit facts of exactly these commits, without walking their history."""
        _, out = self._run("log", "--no-walk=unsorted", _FORMAT, *dict.fromkeys(shas), "--")
        return {commit.sha: commit for commit in _commits(out)}

    def log(self, revisions: str, limit: int) -> list[CommitInfo]:
        """The newest `limit` commits of a range such as `a..b`."""
        _, out = self._run("log", f"--max-count={limit}", _FORMAT, revisions, "--")
        return _commits(out)

    def left_right(self, left: str, right: str) -> tuple[int, int]:
        """(commits only in `left`, commits only in `right`); git walks only the two sides of the fork."""
        _, out = self._run("rev-list", "--left-right", "--count", f"{left}...{right}")
        only_left, only_right = out.split()
        return int(only_left), int(only_right)

    def merge_base(self, a: str, b: str) -> str | None:
        status, out = self._run("merge-base", a, b, ok=(0, 1))
        return out.strip() if status == 0 else None

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        # 128: a commit this clone does not have, which is no ancestor of anything it has.
        status, _ = self._run("merge-base", "--is-ancestor", ancestor, descendant, ok=(0, 1, 128))
        return status == 0

    def diff(self, base: str, head: str, pathspecs: list[str] | None = None) -> list[tuple[str, str]]:
        """(status letter, path) for every path that differs from `base` to `head`; renames as delete + add."""
        _, out = self._run("diff", "--name-status", "-z", "--no-renames", base, head, "--", *(pathspecs or []))
        fields = out.split("\0")
        return [(fields[i][:1], fields[i + 1]) for i in range(0, len(fields) - 1, 2) if fields[i]]

    def show(self, sha: str, path: str) -> str | None:
        """A file's content at a commit, or None when the commit does not have it."""
        status, out = self._run("cat-file", "blob", f"{sha}:{path}", ok=(0, 128))
        return out if status == 0 else None

    def release_config(self, sha: str) -> tuple[ReleaseConfig, str]:
        """`.pc-release.yaml` at `sha` (the defaults when the commit has none) and where it came from."""
        text = self.show(sha, RELEASE_CONFIG_PATH)
        if text is None:
            return DEFAULT_RELEASE_CONFIG, f"defaults ({RELEASE_CONFIG_PATH} absent at {sha[:12]})"
        return load_release_config(text, f"{RELEASE_CONFIG_PATH}@{sha[:12]}"), f"{RELEASE_CONFIG_PATH}@{sha[:12]}"
