"""Benchmark: GitLab requests per release_pipeline_sensor tick, idle and with one pipeline in flight, as the
history of finished release pipelines grows.

    .venv/bin/python bench/sensor_requests.py [--history 50]

Runs the real sensor (build_sensor_context on a real instance, its events applied as the daemon does) against a
real git origin and the sandbox GitLab over HTTP, and counts requests with the sandbox's request_log. The
pipeline in flight is created by the real promote_release job and scripted stage by stage; the history is
--history finished pipelines whose `release_pipeline` materializations carry what the promotion job writes.
Goal: no GitLab request while nothing is in flight; per tick, two per pipeline in flight plus one per publish
job whose digest artifact is read for the first time, whatever the history.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

import dagster as dg

from pc_release.resources.gitlab import GitLabResource
from pc_release.sandbox.gitlab_server import SandboxGitLab
from pc_release_tests.gitworld import git
from pc_release_tests.pipeline.harness import (
    DIGESTS,
    SensorDriver,
    finish_stage,
    green_master,
    materialized,
    publish,
    release,
    sensor_resources,
)
from pc_release_tests.pipeline.world import make_platform_world

TOKEN = "bench-token"
PROJECT = "platform/platform-control"


def count(server: SandboxGitLab, driver: SensorDriver) -> tuple[int, str]:
    server.reset_request_log()
    result = driver.tick()
    requests = [path for _, path in server.request_log if path.startswith("/api/v4/")]
    names = materialized(result)
    if len(names) > 8:
        return len(requests), ", ".join(f"{n} {name}" for name, n in Counter(names).items())
    reported = ", ".join(names) or (result.skip_reason.skip_message if result.skip_reason else "-")
    return len(requests), reported


def add_history(world, server: SandboxGitLab, instance: dg.DagsterInstance, n: int) -> None:
    """n finished release pipelines, each announced the way the promotion job's release_pipeline asset does."""
    gitlab = GitLabResource(url=server.url, project=PROJECT, token=TOKEN)
    sha = git(world.clone, "rev-parse", "origin/release/platform-control")
    for index in range(n):
        variables = {
            "PLATFORM_CONTROL_RELEASE_MODE": "full",
            "PLATFORM_CONTROL_RELEASE_PROFILE": "standard",
            "PC_RELEASE_REQUEST_ID": f"bench-history-{index}",
        }
        pipeline, _ = gitlab.create_release_pipeline(sha, variables, pipelines_before_push=0)
        server.set_all_jobs_status(pipeline.id, "success")
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                "release_pipeline",
                metadata={
                    "sha": sha,
                    "pipeline_id": pipeline.id,
                    "pipeline_url": dg.MetadataValue.url(pipeline.web_url),
                    "variables": dg.MetadataValue.json(variables),
                    "kind": "release",
                },
            )
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=50, help="finished release pipelines before the measurement")
    args = parser.parse_args()
    os.environ["PC_RELEASE_GITLAB_TOKEN"] = TOKEN
    rows: list[tuple[str, int, str]] = []
    with tempfile.TemporaryDirectory(prefix="pc-release-bench-") as tmp:
        world = make_platform_world(Path(tmp) / "git")
        with SandboxGitLab(origin=world.origin, token=TOKEN) as server, dg.instance_for_test() as instance:
            driver = SensorDriver(instance=instance, resources=sensor_resources(world, server.url))
            rows.append(("idle, empty instance", *count(server, driver)))
            green_master(server, world)
            add_history(world, server, instance, args.history)
            rows.append((f"catching up on {args.history} unrecorded finished pipelines (once)", *count(server, driver)))
            rows.append((f"idle, {args.history} pipelines recorded", *count(server, driver)))

            pid, _ = release(world, server, instance)
            rows.append(("1 in flight: nothing finished yet", *count(server, driver)))
            rows.append(("1 in flight: nothing changed", *count(server, driver)))
            finish_stage(server, pid, "contracts")
            finish_stage(server, pid, "build-test")
            rows.append(("1 in flight: contracts + build-test finished", *count(server, driver)))
            for runtime, digest in DIGESTS.items():
                publish(server, pid, runtime, digest=digest)
            rows.append(("1 in flight: publish jobs finished (digests read)", *count(server, driver)))
            rows.append(("1 in flight: nothing changed", *count(server, driver)))
            for stage in ("digest-fan-in", "deploy", "remote-validation"):
                finish_stage(server, pid, stage)
            rows.append(("1 in flight: pipeline finished (record)", *count(server, driver)))
            rows.append((f"idle, {args.history + 1} pipelines recorded", *count(server, driver)))
    width = max(len(label) for label, _, _ in rows)
    print(f"{'tick':<{width}}  GitLab requests  reported")
    for label, requests, reported in rows:
        print(f"{label:<{width}}  {requests:>15}  {reported}")
    idle = [requests for label, requests, _ in rows if label.startswith("idle")]
    flight = [requests for label, requests, _ in rows if "nothing changed" in label]
    print(f"\nidle ticks: max {max(idle)} requests (goal 0); in-flight ticks without news: {flight} (goal 2 each)")
    return 0 if max(idle) == 0 and all(n == 2 for n in flight) else 1


if __name__ == "__main__":
    sys.exit(main())
