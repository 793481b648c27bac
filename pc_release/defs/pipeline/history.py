"""The release record's history: one row per recorded release pipeline, newest first, so the record's page answers
"what was released, when, by whom, and did it work" without opening each event.

Only a release is a materialization of `release_record`: a pipeline that failed, was canceled or was a dev-test
is recorded as an observation of it, so the asset's Events list never shows a green tick for it and its latest
materialization is always the release in force. Everything that reads the records back reads both, newest first,
through `recorded_releases`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from pc_release.defs.verdicts import plain_metadata
from pc_release.policy.pipeline.record import is_release

RELEASE_RECORD = dg.AssetKey("release_record")
HISTORY_ROWS = 20
_COLUMNS = (
    ("recorded_at", "string", "When the pipeline's record was written (UTC)."),
    ("outcome", "string", "released, not released, failed, canceled, or dev-test, not released."),
    ("sha", "string", "The exact source SHA the pipeline deployed."),
    ("kind", "string", "release or dev-test."),
    ("mode", "string", "PLATFORM_CONTROL_RELEASE_MODE of the pipeline."),
    ("profile", "string", "PLATFORM_CONTROL_RELEASE_PROFILE of the pipeline."),
    ("operator", "string", "Who launched the promotion (CLI login, sensor, or the Dagster UI)."),
    ("pipeline_url", "string", "The GitLab release pipeline."),
    ("promotion_run", "string", "The Dagster run that promoted the SHA and triggered the pipeline."),
)
HISTORY_SCHEMA = dg.TableSchema(
    columns=[dg.TableColumn(name, type_, description=text) for name, type_, text in _COLUMNS]
)


@dataclass(frozen=True)
class AssetReport:
    """One materialization or observation as the event log holds it, its metadata as plain values."""

    storage_id: int
    timestamp: float
    run_id: str
    materialized: bool
    metadata: dict[str, Any]

    @property
    def recorded_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp, UTC)

    @classmethod
    def of(cls, record: dg.EventLogRecord) -> AssetReport:
        event = record.asset_materialization or record.asset_observation
        return cls(
            storage_id=record.storage_id,
            timestamp=record.timestamp,
            run_id=record.run_id,
            materialized=record.asset_materialization is not None,
            metadata=plain_metadata(event.metadata) if event else {},
        )


def record_event(
    status: str, description: str, metadata: dict[str, Any]
) -> dg.AssetMaterialization | dg.AssetObservation:
    """The event a release record is reported as: a materialization only for a release."""
    event_type = dg.AssetMaterialization if is_release(status) else dg.AssetObservation
    return event_type(asset_key=RELEASE_RECORD, description=description, metadata=metadata)


def recorded_releases(instance: dg.DagsterInstance, limit: int) -> list[AssetReport]:
    """The newest `limit` release records, released or not, newest first."""
    found = [
        AssetReport.of(record)
        for fetch in (instance.fetch_materializations, instance.fetch_observations)
        for record in fetch(RELEASE_RECORD, limit=limit, ascending=False).records
    ]
    return sorted(found, key=lambda report: report.storage_id, reverse=True)[:limit]


def newest_report(instance: dg.DagsterInstance, key: dg.AssetKey) -> AssetReport | None:
    """The newest report of `key`: for the release record, released or not; for any other asset, whose reports
    are all materializations, its latest materialization."""
    if key == RELEASE_RECORD:
        newest = recorded_releases(instance, 1)
    else:
        newest = [AssetReport.of(record) for record in instance.fetch_materializations(key, limit=1).records]
    return newest[0] if newest else None


def history_row(metadata: dict[str, Any], recorded_at: datetime) -> dict[str, str]:
    """One release as the table shows it, from a record's metadata (plain values)."""
    return {
        "recorded_at": recorded_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "outcome": str(metadata.get("outcome") or metadata.get("status") or "?"),
        "sha": str(metadata.get("sha") or ""),
        "kind": str(metadata.get("kind") or ""),
        "mode": str(metadata.get("mode") or ""),
        "profile": str(metadata.get("profile") or ""),
        "operator": str(metadata.get("operator") or "(not recorded)"),
        "pipeline_url": str(metadata.get("pipeline_url") or ""),
        "promotion_run": str(metadata.get("promotion_run") or metadata.get("promotion_run_id") or "(none)"),
    }


def release_history(instance: dg.DagsterInstance, newest: dict[str, str]) -> dg.TableMetadataValue:
    """This record's row, then the rows of the records before it, newest first."""
    rows = [newest]
    for earlier in recorded_releases(instance, HISTORY_ROWS - 1):
        rows.append(history_row(earlier.metadata, earlier.recorded_at))
    return dg.MetadataValue.table(records=[dg.TableRecord(row) for row in rows], schema=HISTORY_SCHEMA)
