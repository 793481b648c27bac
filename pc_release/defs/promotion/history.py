"""Which SHA a promotion replaces: the last release pc-release recorded as released, never this request's own push.

The release branch's current value is only a fallback: after a crash following the push it is this very SHA (the
schema upgrade gate would then compare the SHA with itself), and a deleted branch says nothing at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from pc_release.defs.audit.records import record_files
from pc_release.policy.pipeline.record import RELEASED
from pc_release.policy.promotion import FULL_SHA
from pc_release.reporting import plain_metadata
from pc_release.resources.files import ReleaseFilesResource

# Metadata key on source_commit: the release branch as read before this request pushed anything.
BRANCH_BEFORE = "release_branch_before"
# How far back the instance is searched; older releases are found in the dist dir's record files.
_HISTORY_LIMIT = 200


@dataclass(frozen=True)
class PreviousRelease:
    sha: str | None
    source: str


def _released_in_instance(instance: dg.DagsterInstance) -> tuple[datetime, str, str] | None:
    records = instance.fetch_materializations(dg.AssetKey("release_record"), limit=_HISTORY_LIMIT).records
    for record in records:  # newest first
        meta = plain_metadata(record.asset_materialization.metadata)
        sha = str(meta.get("sha") or "")
        if meta.get("status") == RELEASED and FULL_SHA.fullmatch(sha):
            at = datetime.fromtimestamp(record.timestamp, UTC)
            return at, sha, f"release record of pipeline {meta.get('pipeline_id')} (run {record.run_id[:8]})"
    return None


def _released_in_dist(dist: Path) -> tuple[datetime, str, str] | None:
    for path in record_files(dist):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        sha = str(record.get("sha") or "") if isinstance(record, dict) else ""
        if record.get("status") == RELEASED and FULL_SHA.fullmatch(sha) and record.get("recorded_at"):
            at = datetime.fromisoformat(str(record["recorded_at"]))
            return (at if at.tzinfo else at.replace(tzinfo=UTC)), sha, f"release record {path.name}"
    return None


def _branch_before_this_request(instance: dg.DagsterInstance, sha: str) -> str | None:
    """What an earlier attempt at promoting `sha` read from the branch before it pushed, if that was not `sha`."""
    records = instance.fetch_materializations(dg.AssetKey("source_commit"), limit=_HISTORY_LIMIT).records
    for record in records:
        meta = plain_metadata(record.asset_materialization.metadata)
        before = str(meta.get(BRANCH_BEFORE) or "")
        if meta.get("sha") == sha and FULL_SHA.fullmatch(before) and before != sha:
            return before
    return None


def previous_release(
    instance: dg.DagsterInstance, files: ReleaseFilesResource, sha: str, branch_sha: str | None
) -> PreviousRelease:
    released = [found for found in (_released_in_instance(instance), _released_in_dist(Path(files.dist_dir))) if found]
    if released:
        _, found_sha, source = max(released, key=lambda found: found[0])
        return PreviousRelease(found_sha, source)
    if branch_sha is not None and branch_sha != sha:
        return PreviousRelease(branch_sha, "the release branch (no release recorded yet)")
    earlier = _branch_before_this_request(instance, sha)
    if earlier is not None:
        return PreviousRelease(earlier, "the release branch before an earlier attempt of this promotion pushed")
    if branch_sha is None:
        return PreviousRelease(None, "none: no release recorded and no release branch (first release)")
    return PreviousRelease(branch_sha, "the release branch, at this SHA before this request (no release recorded)")
