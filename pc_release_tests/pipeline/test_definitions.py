"""The pipeline domain inside the code location: lineage, partitions, the promotion gate it adds, and its checks
re-evaluated on demand against GitLab."""

import dagster as dg
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from pc_release.definitions import build_definitions
from pc_release.defs.pipeline.checks import recheck_release_pipeline
from pc_release_tests.pipeline.harness import (
    DIGESTS,
    LINEAGE,
    dist_dir,
    publish,
    release,
)
from pc_release_tests.promotion_harness import settings_for


def test_the_code_location_wires_the_pipeline_domain(tmp_path):
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    upstream = "release_pipeline"
    for name in LINEAGE:
        node = graph.get(dg.AssetKey(name))
        assert node.group_name == "pipeline"
        assert dg.AssetKey(upstream) in node.parent_keys
        upstream = name
    assert graph.get(dg.AssetKey("runtime_digest")).partitions_def.name == "runtime"
    assert defs.resolve_sensor_def("release_pipeline_sensor").default_status == dg.DefaultSensorStatus.RUNNING
    promote = defs.resolve_job_def("promote_release").asset_layer.asset_graph.asset_check_keys
    assert dg.AssetCheckKey(dg.AssetKey("source_commit"), "failed_sha_retry") in promote
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert {
        ("package", "runtimes_have_publish_jobs"),
        ("digest_fan_in", "runtime_digests_present"),
        ("remote_validation", "runtime_image_conformance"),
        ("release_record", "final_validation"),
    } <= checks


def test_checks_can_be_evaluated_again_against_gitlab(platform, instance, driver):
    world, server = platform
    pid, _ = release(world, server, instance)
    server.set_all_jobs_status(pid, "success")
    publish(server, pid, "web", digest=DIGESTS["web"])  # api reports no digest
    driver.tick()

    defs = dg.Definitions.merge(
        build_definitions(settings_for(world, server.url, dist_dir(world))),
        dg.Definitions(
            jobs=[dg.define_asset_job("recheck", selection=dg.AssetSelection.checks(recheck_release_pipeline))]
        ),
    )
    server.reset_request_log()
    result = defs.resolve_job_def("recheck").execute_in_process(instance=instance)

    outcomes = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    assert outcomes[("contracts", "stage_passed")].passed
    assert outcomes[("package", "runtimes_have_publish_jobs")].passed
    assert not outcomes[("digest_fan_in", "runtime_digests_present")].passed
    assert "api" in outcomes[("digest_fan_in", "runtime_digests_present")].description
    assert not outcomes[("release_record", "final_validation")].passed
    conformance = outcomes[("remote_validation", "runtime_image_conformance")]
    assert conformance.severity == dg.AssetCheckSeverity.WARN and "not checked" in conformance.description
    assert all(f"/pipelines/{pid}" in path or "/jobs/" in path for _, path in server.request_log)


# Dagster's own snapshot of a schedule reads its deprecated environment_vars; pc-release sets none.
@pytest.mark.filterwarnings("ignore:Property `ScheduleDefinition.environment_vars`:DeprecationWarning")
def test_the_ui_names_release_pipeline_sensor_as_the_automation_of_every_reported_asset(instance):
    # The repository as the webserver loads it, and the lookup behind an asset's "Automations".
    origin = InProcessCodeLocationOrigin(LoadableTargetOrigin(module_name="pc_release.definitions", attribute="defs"))
    with origin.create_location(instance) as location:
        repository = location.get_repository("__repository__")
        for name in (*LINEAGE, "release_record"):
            sensors = {sensor.name for sensor in repository.get_sensors_targeting(dg.AssetKey(name))}
            assert sensors == {"release_pipeline_sensor"}, name
