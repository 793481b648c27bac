"""Moving the release branch off commits master lacks without losing any: they are kept under a ref pc-release
owns (refs/pc-release/diverged/<utc time>-<sha>) before the push, with their full SHAs recorded."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from pc_release.models import KeptCommits, SourceCommit
from pc_release.policy.promotion import kept_ref_name
from pc_release.resources.git import GitClone


def keep_left_behind(clone: GitClone, source: SourceCommit, log: dg.DagsterLogManager) -> KeptCommits | None:
    """Keep the release tip under a kept ref when the push to `source.sha` would leave commits reachable from
    nothing; a re-run of the same promotion finds the ref the first attempt pushed instead of adding another."""
    old = source.release_sha
    if old is None or old == source.sha or not source.release_only_commits:
        return None
    left = clone.commits_left_behind(old, source.sha)
    if not left:
        return None
    ref = next((name for name, sha in clone.kept_refs().items() if sha == old), None)
    ref = ref or kept_ref_name(old, datetime.now(UTC))
    clone.keep_commits(ref, old)
    log.warning(
        f"{clone.release_branch} moves off {len(left)} commit(s) master lacks; kept under {ref}: "
        + ", ".join(c.sha for c in left)
    )
    return KeptCommits(ref=ref, sha=old, commits=left)


def kept_metadata(kept: KeptCommits | None) -> dict[str, dg.RawMetadataValue]:
    """The release_branch materialization's record of what was kept, by full SHA."""
    if kept is None:
        return {}
    return {
        "kept_ref": kept.ref,
        "kept_commits": dg.MetadataValue.json([f"{c.sha} {c.author}: {c.subject}" for c in kept.commits]),
    }
