"""The release record as a history: each record's event says its outcome, SHA, pipeline, operator, mode, profile
and promotion run, and carries a table of the releases recorded before it, newest first; a failed release never
reads as a success, neither in its event nor in the table."""

import dagster as dg
import pytest

from pc_release.defs.promotion.run_tags import operator_of
from pc_release_tests.pipeline.harness import failed_after_release, history, release


def _latest(instance: dg.DagsterInstance) -> dg.AssetMaterialization | dg.AssetObservation:
    """The newest release record: a materialization if it was a release, else an observation."""
    return history(instance, "release_record")[-1].asset_event


def test_each_record_says_what_happened_and_lists_the_releases_before_it(platform, instance, driver):
    world, server = platform
    case = failed_after_release(world, server, instance, driver)
    good_sha, bad_sha, pid, run_id = case.good_sha, case.bad_sha, case.pipeline_id, case.run_id

    failed = _latest(instance)
    # Only a release is a materialization: the failed one is an observation (no green tick in the asset's Events),
    # the asset's latest materialization stays the release in force, and later ticks do not record it again.
    assert isinstance(failed, dg.AssetObservation)
    latest = instance.get_latest_materialization_event(dg.AssetKey("release_record")).asset_materialization
    assert latest.metadata["sha"].value == good_sha and latest.metadata["outcome"].value == "released"
    assert len(history(instance, "release_record")) == 2
    contracts = history(instance, "contracts")[-1].asset_event
    assert contracts.description.endswith(f": FAILED in pipeline {pid}")
    driver.cursor = None  # a lost cursor: the sensor finds the failed pipeline again, and its observation
    assert not [e for e in driver.tick().asset_events if e.asset_key == dg.AssetKey("release_record")]
    assert len(history(instance, "release_record")) == 2
    assert failed.description.startswith(f"FAILED: release of {bad_sha} (mode full, profile standard) by ")
    assert str(pid) in failed.description and run_id in failed.description
    metadata = failed.metadata
    assert metadata["outcome"].value == "failed"
    assert metadata["sha"].value == bad_sha
    assert metadata["mode"].value == "full" and metadata["profile"].value == "standard"
    assert metadata["operator"].value == "not recorded"  # executed in-process, not by the CLI, a sensor or the UI
    assert isinstance(metadata["pipeline_url"], dg.UrlMetadataValue)
    assert metadata["promotion_run"] == dg.MetadataValue.dagster_run(run_id)

    table = metadata["history"]
    assert isinstance(table, dg.TableMetadataValue)
    assert [column.name for column in table.schema.columns][:3] == ["recorded_at", "outcome", "sha"]
    rows = [record.data for record in table.records]
    assert [(row["outcome"], row["sha"]) for row in rows[:2]] == [("failed", bad_sha), ("released", good_sha)]
    assert rows[0]["promotion_run"] == run_id
    assert rows[0]["pipeline_url"].endswith(f"/-/pipelines/{pid}")
    assert rows[1]["promotion_run"] != "(none)"


def test_promotion_runs_are_tagged_with_what_they_promoted_and_who_asked(platform, instance):
    world, server = platform
    _, out = release(world, server, instance)

    tags = instance.get_run_by_id(out.result.run_id).tags
    assert tags["pc-release/sha"] == out.candidate["PLATFORM_CONTROL_RELEASE_SHA"]
    assert tags["pc-release/source-ref"] == "refs/remotes/origin/master"
    assert tags["pc-release/kind"] == "release"
    assert tags["pc-release/mode"] == "full" and tags["pc-release/profile"] == "standard"
    assert tags["pc-release/operator"] == "not recorded"


@pytest.mark.parametrize(
    ("tags", "operator"),
    [
        ({"pc-release/operator": "alice", "dagster/from_ui": "true"}, "alice"),
        ({"user": "bob@example.com"}, "bob@example.com"),
        ({"dagster/sensor_name": "master_ci_sensor"}, "sensor master_ci_sensor"),
        ({"dagster/schedule_name": "nightly"}, "schedule nightly"),
        ({"dagster/from_ui": "true"}, "Dagster UI (no user recorded)"),
        ({}, "not recorded"),
    ],
)
def test_the_operator_is_who_launched_the_run(tags, operator):
    assert operator_of(tags) == operator
