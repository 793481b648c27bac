"""The release record's history: one row per recorded release pipeline, newest first, so the record's page answers
"what was released, when, by whom, and did it work" without opening each event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from pc_release.defs.verdicts import plain_metadata

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
    earlier = instance.fetch_materializations(RELEASE_RECORD, limit=HISTORY_ROWS - 1, ascending=False).records
    rows = [newest]
    for record in earlier:
        materialization = record.asset_materialization
        if materialization is None:
            continue
        metadata = plain_metadata(materialization.metadata)
        rows.append(history_row(metadata, datetime.fromtimestamp(record.timestamp, UTC)))
    return dg.MetadataValue.table(records=[dg.TableRecord(row) for row in rows], schema=HISTORY_SCHEMA)
