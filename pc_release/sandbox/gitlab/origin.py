"""Read-only access to the project's bare repository, as GitLab reads its refs, files and commits."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from pc_release.sandbox.gitlab.errors import SandboxLookupError

DEFAULT_BRANCH = "master"
NULL_SHA = "0" * 40
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's empty tree: what a root commit is diffed against


class Origin:
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
