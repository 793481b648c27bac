"""Files of one exact commit, read straight from git objects (never from a working tree that may differ)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pc_release.gitread import GitReader


class TreeAtSha:
    """Read-only view of the tree of `sha` in the repository at `repo`."""

    def __init__(self, repo: Path, sha: str) -> None:
        self.repo = Path(repo)
        self.sha = sha
        self._reader = GitReader(self.repo)

    @cached_property
    def paths(self) -> frozenset[str]:
        """Every file path of the commit (blobs and symlinks)."""
        out = self._reader.run("ls-tree", "-r", "-z", "--name-only", "--full-tree", self.sha).out
        return frozenset(path for path in out.split("\0") if path)

    def exists(self, path: str) -> bool:
        path = path.strip("/")
        return path in self.paths or any(candidate.startswith(f"{path}/") for candidate in self.paths)

    def read(self, path: str) -> str | None:
        """The file's text at the commit, or None when the commit has no such file."""
        path = path.lstrip("/")
        if path not in self.paths:
            return None
        result = self._reader.run("show", f"{self.sha}:{path}", ok=None)
        return result.out if result.status == 0 else None
