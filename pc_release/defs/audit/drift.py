"""Gather the drift audit's facts (`DriftState`) from the remote's master and release branches.

The cost is a dozen git commands whatever the repository's age: counts come from `rev-list --count` over the
two sides of the fork, listings are capped, and watched paths are compared only where release-only commits
touched them, by tree diffs restricted to those paths. Kept refs (the commits promotions moved the release
branch off) add one `ls-remote`, and when there are any, one fetch and one `log` per kept ref.
"""

from __future__ import annotations

from datetime import datetime

from pc_release.defs.audit.reads import GitReads
from pc_release.errors import GitOperationError
from pc_release.models import KeptCommits
from pc_release.policy.audit import DriftState, LastPromotion, WatchedPathDrift, is_config_file, missing_config_keys
from pc_release.release_config import ReleaseConfig
from pc_release.resources.git import GitClone

RELEASE_ONLY_SHOWN = 50
UNRELEASED_SHOWN = 10
DRIFT_SHOWN = 200
# Config files whose keys are compared one by one; each costs two small `cat-file`s.
KEY_DIFF_FILES = 20
# Above this many touched paths, the second diff takes the watched patterns instead of the paths themselves,
# to keep the command line short; the result is intersected with the touched paths either way.
PATHSPEC_LIMIT = 500

_STATE_BY_STATUS = {"A": "missing", "D": "release-only"}


def watched_drift(
    reads: GitReads, master: str, release: str, config: ReleaseConfig
) -> tuple[list[WatchedPathDrift], int]:
    """Watched paths that release-only commits changed and that still differ from master's head.

    A path master changed after the release was cut is lag, not drift: the next promotion brings it. Drift is
    what the release branch did on its own: dropped a runtime file, removed a config key, kept a stale artifact.
    """
    base = reads.merge_base(master, release)
    patterns = list(config.watched_paths)
    changed_on_release = reads.diff(base, release, patterns) if base else reads.diff(master, release, patterns)
    touched = {path for _, path in changed_on_release if config.is_watched_path(path)}
    if not touched:
        return [], 0
    pathspecs = sorted(touched) if len(touched) <= PATHSPEC_LIMIT else patterns
    drift = [
        WatchedPathDrift(path=path, state=_STATE_BY_STATUS.get(status, "different"))  # type: ignore[arg-type]
        for status, path in reads.diff(release, master, pathspecs)
        if path in touched
    ]
    detailed = []
    compared = 0
    for item in drift[:DRIFT_SHOWN]:
        if item.state == "different" and is_config_file(item.path) and compared < KEY_DIFF_FILES:
            compared += 1
            on_master, on_release = reads.show(master, item.path), reads.show(release, item.path)
            if on_master is not None and on_release is not None:
                keys = missing_config_keys(on_master, on_release, item.path)
                item = item.model_copy(update={"missing_keys": keys})
        detailed.append(item)
    return detailed, len(drift)


def kept_not_on_master(clone: GitClone) -> tuple[int, list[KeptCommits]]:
    """(how many kept refs the remote has, those holding commits master lacks, with those commits)."""
    refs = clone.kept_refs()
    if refs:
        clone.fetch_kept()
    kept = [KeptCommits(ref=ref, sha=sha, commits=clone.kept_not_on_master(ref)) for ref, sha in sorted(refs.items())]
    return len(refs), [k for k in kept if k.commits]


def read_drift_state(reads: GitReads, *, last: LastPromotion | None, now: datetime, fetch: bool = True) -> DriftState:
    """Fetch, then read every fact the drift rules judge."""
    clone = reads.clone
    if fetch:
        reads.fetch()
    master_sha, release_sha = reads.tips()
    if master_sha is None:
        raise GitOperationError(f"{clone.master_ref} does not exist after fetching {clone.remote}", rule="git")
    config, _ = reads.release_config(master_sha)
    info = reads.commits(master_sha, *([release_sha] if release_sha else []))
    behind = ahead = 0
    release_only, unreleased, drift, drift_count = [], [], [], 0
    if release_sha is not None:
        behind, ahead = reads.left_right(master_sha, release_sha)
        if ahead:
            release_only = reads.log(f"{master_sha}..{release_sha}", RELEASE_ONLY_SHOWN)
            drift, drift_count = watched_drift(reads, master_sha, release_sha, config)
        if behind:
            unreleased = reads.log(f"{release_sha}..{master_sha}", UNRELEASED_SHOWN)
    kept_refs, kept = kept_not_on_master(clone)
    dev_test_on_master = None
    if last is not None and last.kind == "dev-test":
        dev_test_on_master = ahead == 0 if last.sha == release_sha else reads.is_ancestor(last.sha, master_sha)
    return DriftState(
        master_branch=clone.master_branch,
        release_branch=clone.release_branch,
        master=info[master_sha],
        release=info[release_sha] if release_sha else None,
        behind=behind,
        ahead=ahead,
        release_only_commits=release_only,
        unreleased_commits=unreleased,
        watched_paths=list(config.watched_paths),
        watched_drift=drift,
        watched_drift_count=drift_count,
        last_promotion=last,
        dev_test_sha_on_master=dev_test_on_master,
        kept_refs=kept_refs,
        kept_not_on_master=kept,
        audited_at=now,
    )
