"""Where the drift audit learns the last promotion: release record files, the instance, the candidate env."""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg

from pc_release.defs.audit.records import last_promotion
from pc_release.resources.files import ReleaseFilesResource

OLD, DEV_TEST, NEWER = "1" * 40, "2" * 40, "3" * 40
HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)


def write_record(dist, pipeline_id: int, sha: str, kind: str, at: datetime) -> None:
    record = {"sha": sha, "kind": kind, "recorded_at": at.isoformat(), "pipeline_url": f"http://gl/p/{pipeline_id}"}
    (dist / f"platform-control-release-record-{pipeline_id}.json").write_text(json.dumps(record))


def test_the_newest_pipelines_record_file_is_read(tmp_path, instance):
    write_record(tmp_path, 3, OLD, "release", HOUR_AGO)
    write_record(tmp_path, 12, DEV_TEST, "dev-test", HOUR_AGO - timedelta(hours=5))
    (tmp_path / "platform-control-release-record-x.json").write_text("not a record")

    last = last_promotion(instance, ReleaseFilesResource(dist_dir=str(tmp_path)))

    assert last.sha == DEV_TEST and last.kind == "dev-test"
    assert last.source.endswith("platform-control-release-record-12.json")
    assert last.pipeline_url == "http://gl/p/12"


def test_a_newer_materialization_wins_over_an_older_record(tmp_path, instance):
    write_record(tmp_path, 4, OLD, "release", HOUR_AGO)
    instance.report_runless_asset_event(
        dg.AssetMaterialization("release_branch", metadata={"sha": NEWER, "kind": "release"})
    )

    last = last_promotion(instance, ReleaseFilesResource(dist_dir=str(tmp_path)))

    assert last.sha == NEWER
    assert last.source.startswith("release_branch materialization")


def test_nothing_recorded_anywhere(tmp_path, instance):
    assert last_promotion(instance, ReleaseFilesResource(dist_dir=str(tmp_path))) is None
