"""GitReader: the one way pc-release runs git, so every read gets the same ref handling.

Arguments go to git as an argv list, never through a shell; stdout is the value and stderr only ever explains a
failure, so a warning can never become a SHA or a recorded value; a ref resolves to one full SHA or is refused
(ambiguous names included); and a shallow clone is deepened before anything judges ancestry in it.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pc_release.errors import ConfigurationError, GitOperationError, InvalidInput, redact
from pc_release.policy.promotion import FULL_SHA, pick_ref, ref_candidates, shown_ref, validate_ref

# git's stderr can echo an argument back at any length; an error message keeps this much of it.
_STDERR_LIMIT = 500
# Commands that write remote-tracking refs: two of them at once in one clone fail on git's ref locks.
_LOCKED = ("fetch", "push", "clone")


@dataclass(frozen=True)
class GitOutput:
    status: int
    data: bytes  # stdout exactly as git wrote it
    err: str

    @property
    def out(self) -> str:
        return self.data.decode(errors="replace")


def stderr_excerpt(stderr: str) -> str:
    """git's reason for a failure, cut to a length fit for an error message."""
    text = stderr.strip()
    return text if len(text) <= _STDERR_LIMIT else f"{text[:_STDERR_LIMIT]}... ({len(text)} characters)"


@contextmanager
def file_lock(path: Path | None) -> Iterator[None]:
    """An exclusive lock on `path` (created if absent) for as long as the block runs; None locks nothing."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class GitReader:
    """git commands on the repository (clone, worktree or CI checkout) at `path`.

    `env` is added to every command's environment (how a provisioned clone passes its credential: never on the
    command line nor in the clone's config); `secrets` are masked in every error; `lock`, when given, is held
    while a command that writes remote-tracking refs runs, so concurrent runs sharing the clone take turns.
    """

    def __init__(
        self,
        path: Path,
        env: Mapping[str, str] | None = None,
        secrets: tuple[str, ...] = (),
        lock: Path | None = None,
    ) -> None:
        self.path = Path(path)
        self.env = dict(env or {})
        self.secrets = secrets
        self.lock = lock

    def run(self, *args: str, ok: tuple[int, ...] | None = (0,)) -> GitOutput:
        """Run `git -C path args...`; a status outside `ok` (None: any) raises GitOperationError with git's reason."""
        # Imported here: GitPython runs `git version` when imported, which a code-location load need not pay for.
        import git

        # -C rather than a working directory: GitPython silently runs in the current directory when the
        # working directory does not exist, which would read some other repository.
        with file_lock(self.lock if args and args[0] in _LOCKED else None):
            status, out, err = git.Git().execute(
                ["git", "-C", str(self.path), *args],
                with_extended_output=True,
                with_exceptions=False,
                strip_newline_in_stdout=False,
                stdout_as_string=False,
                env=self.env or None,
            )
        err = err.decode(errors="replace") if isinstance(err, bytes) else err
        err = redact(err, *self.secrets)
        if ok is not None and status not in ok:
            raise GitOperationError(f"git {args[0]} failed in {self.path}: {stderr_excerpt(err)}", rule="git")
        return GitOutput(status=status, data=out, err=err)

    def text(self, *args: str) -> str:
        """stdout of a command that must succeed, without its final newline."""
        return self.run(*args).out.removesuffix("\n")

    def is_shallow(self) -> bool:
        return self.text("rev-parse", "--is-shallow-repository") == "true"

    def fetch(self, remote: str, *refspecs: str) -> None:
        """Fetch `refspecs` from `remote` (deepening a shallow clone on the way), or refuse to judge without history.

        Every rule here asks "is X reachable from master": in a shallow clone history stops at the cut, so a
        commit on master looks unreachable and commits below the cut look release-only.
        """
        shallow = self.is_shallow()
        args = ["fetch", "--prune", "--quiet", *(["--unshallow"] if shallow else []), remote, *refspecs]
        try:
            self.run(*args)
        except GitOperationError as err:
            if not shallow:
                raise
            raise ConfigurationError(
                f"{self.path} is a shallow clone and deepening it (git fetch --unshallow {remote}) failed: "
                f"{err.detail}; reachability from master cannot be judged on a cut history. Make the clone "
                "complete (git fetch --unshallow, or GIT_DEPTH=0 in GitLab CI) and run again",
                rule="shallow-clone",
            ) from err

    def resolve(self, ref: str) -> str:
        """The one commit `ref` names, as a full SHA; refused when it names nothing, or more than one ref."""
        validate_ref(ref)
        if FULL_SHA.fullmatch(ref.lower()):
            return self._commit(ref.lower(), ref)
        names = ref_candidates(ref)
        existing: dict[str, str] = {}
        if "HEAD" in names:
            head = self.run("rev-parse", "--verify", "--quiet", "HEAD", ok=(0, 1))
            if head.status == 0:
                existing["HEAD"] = head.out.strip()
        listed = self.text("for-each-ref", "--format=%(refname)%00%(objectname)", *(n for n in names if n != "HEAD"))
        for line in listed.splitlines():
            name, _, oid = line.partition("\0")
            existing[name] = oid
        # for-each-ref also lists refs below a pattern (refs/heads/x/y for refs/heads/x): keep exact names only.
        found = {name: existing[name] for name in names if name in existing}
        _, oid = pick_ref(ref, found, str(self.path))
        return self._commit(oid, ref)

    def _commit(self, oid: str, ref: str) -> str:
        peeled = self.run("rev-parse", "--verify", "--quiet", f"{oid}^{{commit}}", ok=(0, 1))
        sha = peeled.out.strip()
        if peeled.status != 0 or not FULL_SHA.fullmatch(sha):
            raise InvalidInput(f"{shown_ref(ref)} does not name a commit in {self.path}", rule="unknown-ref")
        return sha
