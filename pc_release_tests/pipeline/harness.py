"""Drive release pipelines for the pipeline tests: promote a fresh master SHA through the real promotion job, script
its jobs on the sandbox GitLab, and tick release_pipeline_sensor the way the sensor daemon does."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from pc_release.definitions import build_resources
from pc_release.defs.pipeline.sensors import release_pipeline_sensor
from pc_release.sandbox.gitlab_server import SandboxGitLab
from pc_release_tests.gitworld import GitWorld, git
from pc_release_tests.promotion_harness import Outcome, promote, settings_for

SENSOR_RESOURCES = ("gitlab", "git", "release_files", "release_cluster")
# The lineage the sensor materializes after release_pipeline, in the policy's stage order (written out, not
# imported from pc_release, so the tests state what they expect).
LINEAGE = (
    "contracts",
    "build_test",
    "package",
    "runtime_digest",
    "digest_fan_in",
    "deployment",
    "remote_validation",
    "release_record",
)
DIGESTS = {"api": "sha256:" + "a1" * 32, "web": "sha256:" + "b2" * 32}


def dist_dir(world: GitWorld) -> Path:
    return world.clone.parent / "dist"


def sensor_resources(world: GitWorld, gitlab_url: str, **overrides: dg.ConfigurableResource) -> dict:
    resources = build_resources(settings_for(world, gitlab_url, dist_dir(world))) | overrides
    return {key: resources[key] for key in SENSOR_RESOURCES}


@dataclass
class SensorDriver:
    """Evaluates the sensor on a real instance and applies its result as the daemon would: asset events are
    reported, partitions added, the cursor kept for the next tick (each tick builds a fresh context from it)."""

    instance: dg.DagsterInstance
    resources: dict
    cursor: str | None = None
    results: list[dg.SensorResult] = field(default_factory=list)

    def tick(self) -> dg.SensorResult:
        with dg.build_sensor_context(instance=self.instance, cursor=self.cursor, resources=self.resources) as context:
            result = release_pipeline_sensor(context)
        assert isinstance(result, dg.SensorResult)
        for event in result.asset_events:
            self.instance.report_runless_asset_event(event)
        for request in result.dynamic_partitions_requests:
            new = [
                k
                for k in request.partition_keys
                if not self.instance.has_dynamic_partition(request.partitions_def_name, k)
            ]
            self.instance.add_dynamic_partitions(request.partitions_def_name, new)
        self.cursor = result.cursor
        self.results.append(result)
        return result


def materialized(result: dg.SensorResult) -> list[str]:
    """Asset keys (with partition) the tick reported, in order."""
    return [
        event.asset_key.to_user_string() + (f"[{event.partition}]" if event.partition else "")
        for event in result.asset_events
        if isinstance(event, dg.AssetMaterialization)
    ]


def observed(result: dg.SensorResult) -> list[str]:
    """Asset keys the tick reported as observations: the release record of a pipeline that did not release."""
    return [event.asset_key.to_user_string() for event in result.asset_events if isinstance(event, dg.AssetObservation)]


def evaluations(result: dg.SensorResult) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {
        (event.asset_key.to_user_string(), event.check_name): event
        for event in result.asset_events
        if isinstance(event, dg.AssetCheckEvaluation)
    }


def history(instance: dg.DagsterInstance, asset: str) -> list[dg.EventLogRecord]:
    """Every report of an asset, materializations and observations (a release record that is not a release),
    oldest first."""
    key = dg.AssetKey(asset)
    found = [
        *instance.fetch_materializations(key, limit=1000, ascending=True).records,
        *instance.fetch_observations(key, limit=1000, ascending=True).records,
    ]
    return sorted(found, key=lambda record: record.storage_id)


def meta(record: dg.EventLogRecord) -> dict:
    event = record.asset_materialization or record.asset_observation
    return {k: getattr(v, "value", v) for k, v in event.metadata.items()}


def green_master(server: SandboxGitLab, world: GitWorld) -> str:
    head = git(world.clone, "rev-parse", "origin/master")
    pipeline = server.create_pipeline("master", sha=head)
    server.set_all_jobs_status(pipeline["id"], "success")
    return head


def release(
    world: GitWorld,
    server: SandboxGitLab,
    instance: dg.DagsterInstance,
    *,
    change: str | None = None,
    job: str = "promote_release",
    **config,
) -> tuple[int, Outcome]:
    """Commit `change` (a path) to master, let master CI go green, promote: returns the release pipeline id."""
    path = change or f"runtimes/api/change-{len(server.pipelines())}.txt"
    world.commit(f"change {path}", {path: path})
    world.push("master")
    green_master(server, world)
    out = promote(world, server.url, instance, job=job, config={"skip_local_preflight": True} | config)
    assert out.success, out.summary.text
    return int(out.summary.metadata["release_pipeline"]["pipeline_id"]), out


def job_names(server: SandboxGitLab, pipeline_id: int, stage: str | None = None) -> list[str]:
    return [j["name"] for j in server.jobs(pipeline_id) if stage in (None, j["stage"])]


def finish_stage(server: SandboxGitLab, pipeline_id: int, stage: str, status: str = "success") -> None:
    for name in job_names(server, pipeline_id, stage):
        server.set_job_status(pipeline_id, name, status)


def publish(server: SandboxGitLab, pipeline_id: int, runtime: str, *, digest: str | None = None, status="success"):
    """A publish job ending with `status`, its dotenv artifact carrying `digest` (None: no artifact)."""
    if digest is not None:
        variable = f"PLATFORM_CONTROL_RUNTIME_DIGEST_{runtime.upper()}"
        server.set_job_artifact(
            pipeline_id, f"publish:{runtime}", "runtime-digest.env", f"{variable}={digest}\n".encode()
        )
    server.set_job_status(pipeline_id, f"publish:{runtime}", status)


def released(world: GitWorld, server: SandboxGitLab, instance: dg.DagsterInstance, driver: SensorDriver) -> str:
    """One release through every stage to a record that says "released"; returns its SHA."""
    pid, out = release(world, server, instance)
    for stage in ("contracts", "build-test"):
        finish_stage(server, pid, stage)
    for runtime, digest in DIGESTS.items():
        publish(server, pid, runtime, digest=digest)
    for stage in ("digest-fan-in", "deploy", "remote-validation"):
        finish_stage(server, pid, stage)
    for _ in range(3):
        driver.tick()
    (record,) = [meta(r) for r in history(instance, "release_record") if meta(r)["pipeline_id"] == pid]
    assert record["status"] == "released"
    return out.candidate["PLATFORM_CONTROL_RELEASE_SHA"]


@dataclass(frozen=True)
class FailedAfterRelease:
    good_sha: str  # released first: the release in force
    bad_sha: str  # promoted next; its pipeline failed in contracts
    pipeline_id: int
    run_id: str  # the failed one's promotion run


def failed_after_release(
    world: GitWorld, server: SandboxGitLab, instance: dg.DagsterInstance, driver: SensorDriver
) -> FailedAfterRelease:
    """A release, then a promotion whose pipeline fails in contracts, both recorded by the sensor."""
    good_sha = released(world, server, instance, driver)
    pid, out = release(world, server, instance)
    finish_stage(server, pid, "contracts", status="failed")
    for _ in range(3):
        driver.tick()
    return FailedAfterRelease(good_sha, out.candidate["PLATFORM_CONTROL_RELEASE_SHA"], pid, out.result.run_id)
