"""GitResource: the git verbs a promotion needs, on a clone, run through the one GitReader.

The clone is either one the operator keeps (`repo_path`, single host) or one the run provisions itself from the
GitLab project's URL into a cache directory: cloned on first use, fetched afterwards by whatever reads the
remote's state, and shared by every run on the host under a file lock. The token reaches git only through the
environment of the commands that need it, as an `http.<url>.extraHeader`: never in `.git/config`, a command
line, a log line or an error.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import tempfile
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from pc_release.errors import ConfigurationError, GitOperationError, LeaseLost
from pc_release.gitread import GitReader, file_lock
from pc_release.models import CommitInfo
from pc_release.policy.promotion import KEPT_REFS

_LOG_FORMAT = "%H%x1f%an%x1f%cI%x1f%s"


def _parse_log(output: str) -> list[CommitInfo]:
    commits = []
    for line in output.splitlines():
        if not line.strip():
            continue
        sha, author, committed, subject = line.split("\x1f", 3)
        commits.append(
            CommitInfo(sha=sha, author=author, committed_at=datetime.fromisoformat(committed), subject=subject)
        )
    return commits


class GitClone:
    """One clone of the platform repository, with the remote it promotes to; every command goes through `reader`."""

    def __init__(
        self, path: Path, remote: str, master_branch: str, release_branch: str, reader: GitReader | None = None
    ) -> None:
        self.path = path
        self.remote = remote
        self.master_branch = master_branch
        self.release_branch = release_branch
        self.reader = reader or GitReader(path)

    @cached_property
    def repo(self) -> Any:
        """GitPython's object model of the clone, for callers that need it; commands run through `reader`."""
        # GitPython runs `git version` when imported: pay for it when a clone is opened, not at every load.
        import git

        try:
            return git.Repo(self.path)
        except (git.NoSuchPathError, git.InvalidGitRepositoryError) as err:
            raise GitOperationError(f"{self.path} is not a git clone", rule="git-clone") from err

    @property
    def master_ref(self) -> str:
        return f"refs/remotes/{self.remote}/{self.master_branch}"

    @property
    def release_ref(self) -> str:
        return f"refs/remotes/{self.remote}/{self.release_branch}"

    def _git(self, *args: str) -> str:
        return self.reader.text(*args)

    def _status(self, *args: str) -> int:
        return self.reader.run(*args, ok=None).status

    def fetch(self) -> None:
        """Refresh every remote-tracking branch, so every rule judges what the remote has now.

        The refspec is spelled out because a single-branch clone (what `git clone --depth` makes) would
        otherwise never fetch the release branch it is about to judge.
        """
        self.reader.fetch(self.remote, f"+refs/heads/*:refs/remotes/{self.remote}/*")

    def resolve(self, ref: str) -> str:
        """Resolve a ref or full SHA to exactly one commit SHA; refuse anything else, ambiguous names included."""
        return self.reader.resolve(ref)

    def is_on_master(self, sha: str) -> bool:
        return self._status("merge-base", "--is-ancestor", sha, self.master_ref) == 0

    def master_sha(self) -> str:
        return self._git("rev-parse", "--verify", self.master_ref)

    def commit_info(self, sha: str) -> CommitInfo:
        return _parse_log(self._git("log", "-1", f"--format={_LOG_FORMAT}", sha, "--"))[0]

    def commits_not_on_master(self, ref: str) -> list[CommitInfo]:
        """Commits reachable from `ref` but not from master: release-only edits the policy forbids."""
        return _parse_log(self._git("log", f"--format={_LOG_FORMAT}", f"{self.master_ref}..{ref}", "--"))

    def guard_commits(self, ref: str | None) -> list[CommitInfo]:
        """Release-only commits for the CI guard, which may run in a shallow clone or a bare worktree.

        `ref` None judges the release branch: fetched here together with master, so the guard never judges a
        remote-tracking ref as stale as the last fetch someone happened to run.
        """
        if self.remote in self._git("remote").split():
            self.reader.fetch(
                self.remote,
                f"+refs/heads/{self.master_branch}:{self.master_ref}",
                *([f"+refs/heads/{self.release_branch}:{self.release_ref}"] if ref is None else []),
            )
            master = self.master_ref
        else:
            master = f"refs/heads/{self.master_branch}"
        target = self.resolve(ref if ref is not None else self.release_ref)
        return _parse_log(self._git("log", f"--format={_LOG_FORMAT}", f"{master}..{target}", "--"))

    def dirty_paths(self) -> list[str]:
        out = self._git("status", "--porcelain=v1", "--untracked-files=normal")
        return [line[3:] for line in out.splitlines() if line.strip()]

    def remote_release_sha(self) -> str | None:
        """The release branch as the remote has it right now (not the possibly stale tracking ref)."""
        out = self._git("ls-remote", "--heads", self.remote, f"refs/heads/{self.release_branch}")
        return out.split()[0] if out.strip() else None

    def show_file(self, sha: str, path: str) -> str | None:
        result = self.reader.run("show", f"{sha}:{path}", ok=None)
        return result.out if result.status == 0 else None

    def changed_paths(self, base: str, head: str) -> list[str]:
        """Every path whose content differs between two commits; a rename counts as both of its paths."""
        out = self._git("diff", "--name-only", "-z", "--no-renames", base, head, "--")
        return [path for path in out.split("\0") if path]

    def push_release(self, sha: str, expected: str | None) -> bool:
        """Point the remote release branch at `sha`, only if it still holds `expected`.

        Returns True only when this push moved the branch; False when it already pointed at `sha` (nothing to
        do, or a concurrent promotion of the same SHA got there first). A concurrent change to another SHA is
        never overwritten: the lease makes git reject the push and we raise LeaseLost.
        """
        if expected == sha:
            return False
        target = f"refs/heads/{self.release_branch}"
        lease = f"--force-with-lease={target}:{expected or ''}"
        result = self.reader.run("push", "--porcelain", lease, self.remote, f"{sha}:{target}", ok=None)
        out, err = result.out, result.err
        if result.status == 0:
            # --porcelain prints "<flag>\t<from>:<to>\t<summary>" per ref. Flag "=" (up to date) is what git
            # reports, with status 0 and the lease unchecked, when a concurrent push already put `sha` there.
            return not any(line.startswith("=") and f":{target}\t" in line for line in out.splitlines())
        # Simultaneous pushes race past git's client-side lease check, and the loser is then refused by the
        # remote's own compare-and-swap ("cannot lock ref ... is at X but expected Y"): a lost lease too.
        try:
            now = self.remote_release_sha()
        except GitOperationError:
            now = expected  # the remote cannot even be read: the push's own error below says why
        if now == sha:
            return False  # a concurrent promotion of this same SHA won the race: the branch is where we want it
        if now != expected or any(sign in out + err for sign in ("stale info", "fetch first", "[rejected]")):
            raise LeaseLost(
                f"{self.release_branch} moved while promoting: expected {expected or '(absent)'}, remote now has "
                f"{now or '(absent)'}; the concurrent value was kept. Another promotion is in progress or "
                "someone pushed; re-run after checking what is there",
            )
        raise GitOperationError(f"git push to {self.release_branch} failed: {err.strip() or out.strip()}")

    # Kept commits: what a promotion moves the release branch off stays reachable under refs pc-release owns
    # (KEPT_REFS), on the remote and in this clone, until a human deliberately deletes them.

    def commits_left_behind(self, old: str, new: str) -> list[CommitInfo]:
        """Commits reachable from `old` that neither `new` nor master reaches: what moving a branch
        from `old` to `new` would leave reachable from nothing."""
        return _parse_log(self._git("log", f"--format={_LOG_FORMAT}", old, "--not", self.master_ref, new, "--"))

    def kept_refs(self) -> dict[str, str]:
        """The remote's kept refs, name -> SHA, as it has them now."""
        out = self._git("ls-remote", "--refs", self.remote, f"{KEPT_REFS}/*")
        return {ref: sha for sha, ref in (line.split("\t", 1) for line in out.splitlines() if "\t" in line)}

    def keep_commits(self, ref_name: str, sha: str) -> None:
        """Keep `sha` and its history reachable under `ref_name` here and on the remote (no force: an existing
        ref of that name keeping anything else is never overwritten)."""
        self._git("update-ref", ref_name, sha)
        self._git("push", "--quiet", self.remote, f"{sha}:{ref_name}")

    def fetch_kept(self) -> None:
        """Bring the remote's kept refs and their commits here, so they can be compared with master."""
        self._git("fetch", "--quiet", self.remote, f"+{KEPT_REFS}/*:{KEPT_REFS}/*")

    def kept_not_on_master(self, ref: str) -> list[CommitInfo]:
        """Commits of a kept ref whose change master lacks: neither the commit nor a cherry-pick of it is there."""
        return _parse_log(
            self._git(
                "log", f"--format={_LOG_FORMAT}", "--cherry-pick", "--right-only", f"{self.master_ref}...{ref}", "--"
            )
        )

    def remote_urls(self) -> list[str]:
        """Every URL the remote fetches from or pushes to, as git resolves them (insteadOf, pushurl applied)."""
        fetch = self._git("remote", "get-url", "--all", self.remote).splitlines()
        push = self._git("remote", "get-url", "--push", "--all", self.remote).splitlines()
        return list(dict.fromkeys(fetch + push))


_USER_NAME = "pc-release"  # GitLab reads a token as the Basic-auth password, whatever the user name


def auth_header(token: str) -> str:
    return "Authorization: Basic " + base64.b64encode(f"{_USER_NAME}:{token}".encode()).decode()


def auth_env(url: str, token: str | None) -> dict[str, str]:
    """Environment for git commands that talk to `url`: the token as an extra HTTP header scoped to that URL,
    added after any `GIT_CONFIG_*` entries the environment already carries, and no prompt for a password."""
    env = {"GIT_TERMINAL_PROMPT": "0"}
    if token:
        count = int(os.environ.get("GIT_CONFIG_COUNT") or 0)
        env |= {
            "GIT_CONFIG_COUNT": str(count + 1),
            f"GIT_CONFIG_KEY_{count}": f"http.{url}.extraHeader",
            f"GIT_CONFIG_VALUE_{count}": auth_header(token),
        }
    return env


def _cache_name(url: str) -> str:
    """A directory name for the clone of `url`: readable, and different for different URLs."""
    bare = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url).removesuffix("/").removesuffix(".git")
    return re.sub(r"[^A-Za-z0-9._-]+", "_", bare).strip("._") or "repository"


def _refuse_credentials_in(url: str) -> None:
    if re.match(r"^[a-z][a-z0-9+.-]*://[^/@]*:[^/@]*@", url, re.IGNORECASE):
        raise ConfigurationError(
            "the repository URL carries a password; git would write it to the clone's .git/config. Give the URL "
            "without credentials and the token in PC_RELEASE_GITLAB_TOKEN",
            rule="repository-url-credentials",
        )


def provision_clone(
    url: str, cache: Path, remote: str, token: str | None, master_branch: str, release_branch: str
) -> GitClone:
    """The clone of `url` under `cache`, cloned on first use under a lock held across the host, so two runs
    starting at once do not clone twice. A later use finds it and, like an operator's clone, fetches when it reads
    the remote's state (every fetch and push takes the same lock): an idle sensor tick that only asks the remote
    for its heads (`git ls-remote`) costs no fetch."""
    _refuse_credentials_in(url)
    cache = Path(cache)
    path = cache / _cache_name(url)
    lock = cache / f"{path.name}.lock"
    secrets = (token, auth_header(token).split(" ", 2)[2]) if token else ()
    env = auth_env(url, token)
    with file_lock(lock):
        if (path / ".git").is_dir():
            reader = GitReader(path, env=env, secrets=secrets)
            if remote not in reader.text("remote").split():
                reader.run("remote", "add", remote, url)
            elif reader.text("remote", "get-url", remote) != url:
                reader.run("remote", "set-url", remote, url)
        else:
            # Cloned beside the cache entry and renamed into place: a clone killed halfway leaves no entry that
            # a later run would take for a complete one.
            staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=cache))
            try:
                GitReader(cache, env=env, secrets=secrets).run(
                    "clone", "--quiet", "--origin", remote, "--", url, str(staging / "clone")
                )
                (staging / "clone").rename(path)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    return GitClone(
        path, remote, master_branch, release_branch, reader=GitReader(path, env=env, secrets=secrets, lock=lock)
    )


class GitResource(dg.ConfigurableResource):
    """The platform repository clone pc-release promotes from: the operator's (`repo_path`) or, when that is
    unset, one provisioned from `repository_url` into `clone_cache`, authenticated with `token`."""

    repo_path: str | None = None
    repository_url: str | None = None
    clone_cache: str | None = None
    token: str | None = None
    remote: str = "origin"
    master_branch: str = "master"
    release_branch: str = "release/platform-control"

    _clone: GitClone | None = PrivateAttr(default=None)

    def clone(self) -> GitClone:
        if self._clone is None:
            if self.repo_path:
                self._clone = GitClone(Path(self.repo_path), self.remote, self.master_branch, self.release_branch)
            elif self.repository_url and self.clone_cache:
                self._clone = provision_clone(
                    self.repository_url,
                    Path(self.clone_cache),
                    self.remote,
                    self.token,
                    self.master_branch,
                    self.release_branch,
                )
            else:
                raise ConfigurationError(
                    "no platform-control clone: set PC_RELEASE_REPO_PATH to a local clone, or "
                    "PC_RELEASE_CLONE_CACHE (and PC_RELEASE_REPOSITORY_URL, default the GitLab project's URL) "
                    "for a clone pc-release provisions itself",
                    rule="git-clone",
                )
        return self._clone
