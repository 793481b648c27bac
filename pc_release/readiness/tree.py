"""Files of one exact commit, read straight from git objects (never from a working tree that may differ)."""

from __future__ import annotations

import subprocess
from functools import cached_property
from pathlib import Path

from pc_release.errors import GitOperationError


class TreeAtSha:
    """Read-only view of the tree of `sha` in the repository at `repo`."""

    def __init__(self, repo: Path, sha: str) -> None:
        self.repo = Path(repo)
        self.sha = sha

    def _git(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["git", "-C", str(self.repo), *args], capture_output=True, check=False)

    @cached_property
    def paths(self) -> frozenset[str]:
        """Every file path of the commit (blobs and symlinks)."""
        result = self._git("ls-tree", "-r", "-z", "--name-only", "--full-tree", self.sha)
        if result.returncode != 0:
            raise GitOperationError(
                f"cannot list the tree of {self.sha}: {result.stderr.decode(errors='replace').strip()}",
                rule="git",
            )
        return frozenset(path for path in result.stdout.decode().split("\0") if path)

    def exists(self, path: str) -> bool:
        path = path.strip("/")
        return path in self.paths or any(candidate.startswith(f"{path}/") for candidate in self.paths)

    def read(self, path: str) -> str | None:
        """The file's text at the commit, or None when the commit has no such file."""
        path = path.lstrip("/")
        if path not in self.paths:
            return None
        result = self._git("show", f"{self.sha}:{path}")
        return result.stdout.decode(errors="replace") if result.returncode == 0 else None
