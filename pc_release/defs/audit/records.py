"""What pc-release last promoted, read back from the records it leaves: the release record, the promotion's
materializations on the Dagster instance, and the candidate env in the dist dir."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from pc_release.defs.pipeline.history import AssetReport, newest_report
from pc_release.defs.pipeline.record import RECORD_FILE
from pc_release.policy.audit import LastPromotion, dev_test_tip
from pc_release.policy.promotion import FULL_SHA
from pc_release.policy.release_state import LastOutcome, outcome_of
from pc_release.resources.files import ReleaseFilesResource

# Materializations that say which SHA the release branch was moved to. The release record comes when the
# pipeline ends; release_branch and release_pipeline as soon as the push and the trigger happen, so a promotion
# whose pipeline is still running is not mistaken for a branch moved outside pc-release.
RECORD_ASSETS = ("release_record", "release_pipeline", "release_branch")


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _kind(value: str | None) -> str:
    # A release record may say "dev-test, not released"; what matters to the audit is that it was a dev-test.
    return "dev-test" if value and "dev-test" in value else "release"


def _promotion(sha: str | None, kind: str | None, at: datetime, source: str, url: str | None) -> LastPromotion | None:
    if not sha or not FULL_SHA.fullmatch(sha):
        return None
    recorded_at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return LastPromotion(sha=sha, kind=_kind(kind), recorded_at=recorded_at, source=source, pipeline_url=url or None)


def from_instance(instance: dg.DagsterInstance) -> list[LastPromotion]:
    found = []
    for name in RECORD_ASSETS:
        event = newest_report(instance, dg.AssetKey(name))
        if event is None:
            continue
        meta = event.metadata
        kind = "materialization" if event.materialized else "observation"
        promotion = _promotion(
            _text(meta.get("sha")),
            _text(meta.get("kind")),
            event.recorded_at,
            f"{name} {kind}, " + (f"run {event.run_id[:8]}" if event.run_id else "reported by a sensor"),
            _text(meta.get("pipeline_url")),
        )
        if promotion is not None:
            found.append(promotion)
    return found


def from_dist(files: ReleaseFilesResource) -> list[LastPromotion]:
    """The files a promotion writes beside the clone; they outlive a wiped Dagster instance."""
    found = []
    candidate = files.read_candidate() or {}
    created = candidate.get("PLATFORM_CONTROL_CANDIDATE_CREATED_AT")
    if created:
        promotion = _promotion(
            candidate.get("PLATFORM_CONTROL_RELEASE_SHA"),
            candidate.get("PLATFORM_CONTROL_RELEASE_KIND"),
            datetime.fromisoformat(created),
            f"candidate env {files.candidate_path}",
            None,
        )
        if promotion is not None:
            found.append(promotion)
    record = _newest_record_file(Path(files.dist_dir))
    if record is not None:
        found.append(record)
    return found


def record_files(dist: Path) -> list[Path]:
    """The release record files in the dist dir, newest pipeline first (by pipeline id, not by file time)."""
    prefix, suffix = RECORD_FILE.split("{pipeline_id}")
    numbered = []
    for path in dist.glob(f"{prefix}*{suffix}"):
        number = path.name.removeprefix(prefix).removesuffix(suffix)
        if number.isdigit():
            numbered.append((int(number), path))
    return [path for _, path in sorted(numbered, reverse=True)]


def _newest_record_file(dist: Path) -> LastPromotion | None:
    """The release record of the newest pipeline; only that one file is read, however many releases came before."""
    files = record_files(dist)
    if not files:
        return None
    path = files[0]
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    at = record.get("recorded_at") if isinstance(record, dict) else None
    if not at:
        return None
    return _promotion(
        _text(record.get("sha")),
        _text(record.get("kind")),
        datetime.fromisoformat(str(at)),
        f"release record {path}",
        _text(record.get("pipeline_url")),
    )


def last_promotion(instance: dg.DagsterInstance, files: ReleaseFilesResource) -> LastPromotion | None:
    """The newest promotion any record knows of."""
    found = from_instance(instance) + from_dist(files)
    return max(found, key=lambda p: p.recorded_at) if found else None


def recorded_dev_test(instance: dg.DagsterInstance, files: ReleaseFilesResource, release_sha: str | None) -> str | None:
    """`release_sha` when the newest record says pc-release put it on the release branch as a dev-test deploy."""
    return dev_test_tip(last_promotion(instance, files), release_sha) if release_sha else None


def last_outcome(instance: dg.DagsterInstance) -> tuple[int, LastOutcome] | None:
    """(event storage id, outcome) of the newest promotion record: the id changes with every new one."""
    newest: tuple[str, AssetReport] | None = None
    for name in RECORD_ASSETS:
        event = newest_report(instance, dg.AssetKey(name))
        if event is not None and (newest is None or event.storage_id > newest[1].storage_id):
            newest = (name, event)
    if newest is None:
        return None
    name, event = newest
    storage_id, meta = event.storage_id, event.metadata
    sha = _text(meta.get("sha"))
    if not sha:
        return None
    return storage_id, LastOutcome(
        sha=sha,
        kind=_text(meta.get("kind")) or "release",
        outcome=outcome_of(name, _text(meta.get("status"))),
        recorded_at=event.recorded_at,
        pipeline_url=_text(meta.get("pipeline_url")),
    )
