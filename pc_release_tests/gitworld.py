"""Real git repositories for tests: a bare origin with master and the release branch, plus a clone."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

RELEASE_BRANCH = "release/platform-control"

MINIMAL_CI = """\
stages: [contracts, build-test, deploy]
release-branch-guard:
  stage: contracts
  script: [pc-release guard]
  rules:
    - if: '$CI_COMMIT_BRANCH == "release/platform-control"'
unit:
  stage: build-test
  script: [echo unit]
deploy:
  stage: deploy
  script: [echo deploy]
  rules:
    - if: '$CI_COMMIT_BRANCH == "release/platform-control"'
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@dataclass
class GitWorld:
    origin: Path
    clone: Path
    other: Path

    def commit(self, message: str, files: dict[str, str] | None = None, *, where: Path | None = None) -> str:
        repo = where or self.clone
        for name, content in (files or {f"{message.replace(' ', '_')}.txt": message}).items():
            path = repo / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", message)
        return git(repo, "rev-parse", "HEAD")

    def push(self, *refspecs: str, where: Path | None = None) -> None:
        git(where or self.clone, "push", "-q", "--force", "origin", *refspecs)

    def remote_sha(self, branch: str) -> str | None:
        out = git(self.origin, "for-each-ref", "--format=%(objectname)", f"refs/heads/{branch}")
        return out or None

    def release_sha(self) -> str | None:
        return self.remote_sha(RELEASE_BRANCH)


def _configure(repo: Path) -> None:
    git(repo, "config", "user.email", "dev@example.test")
    git(repo, "config", "user.name", "Dev Eloper")
    git(repo, "config", "commit.gpgsign", "false")


def make_git_world(root: Path, ci_yaml: str = MINIMAL_CI) -> GitWorld:
    """origin.git with master (2 commits) and the release branch at master's head; `clone` and `other` clones."""
    origin, clone, other = root / "origin.git", root / "clone", root / "other"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "master", str(origin)], check=True)
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True, capture_output=True)
    _configure(clone)
    git(clone, "symbolic-ref", "HEAD", "refs/heads/master")
    world = GitWorld(origin=origin, clone=clone, other=other)
    world.commit("initial", {".gitlab-ci.yml": ci_yaml, ".gitignore": "dist/\n", "README.md": "platform\n"})
    world.commit("second change")
    world.push("master", f"master:{RELEASE_BRANCH}")
    git(clone, "fetch", "-q", "origin")
    subprocess.run(["git", "clone", "-q", str(origin), str(other)], check=True, capture_output=True)
    _configure(other)
    return world
