"""Benchmark: release_pipeline_sensor on a large release pipeline: 300 jobs across 40 runtimes, its deploy stage in
child pipelines (`trigger: include:`), and the size of the record it writes.

    .venv/bin/python bench/large_pipeline.py [--runtimes 40] [--children 4]

A platform repository with --runtimes runtimes (a publish job each, two build-test jobs, a smoke job) whose deploy
stage is --children trigger jobs, each starting a child pipeline deploying its share of the runtimes (two jobs per
runtime). The real promote_release job promotes it against the sandbox GitLab over HTTP; the stages are then
finished one at a time as a runner would, and after each the real sensor ticks (build_sensor_context on a real
instance, its events applied as the daemon does). Printed per tick: GitLab requests (the sandbox's request log),
wall time and what it reported; then the record's size, as JSON on disk and as the Markdown in the UI.
No goal is set for this size; for comparison, P2's small pipeline costs two requests per tick in flight (its
pipeline and its jobs, one page). Here the jobs take one request per page of 100, and each child pipeline
followed adds its own.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg

from pc_release.defs.pipeline.record import RECORD_FILE
from pc_release.sandbox.gitlab_server import SandboxGitLab, connect_clone
from pc_release_tests.gitworld import make_git_world
from pc_release_tests.pipeline.harness import (
    SensorDriver,
    dist_dir,
    finish_stage,
    history,
    meta,
    publish,
    release,
    sensor_resources,
)
from pc_release_tests.pipeline.world import DOCKERFILE

TOKEN = "bench-token"
CONTRACT_JOBS = 20


def ci_files(runtimes: list[str], children: int) -> tuple[dict[str, str], int]:
    """The repository's CI files and release config, and how many jobs (not counting trigger jobs) it runs."""
    release_only = "  rules: [{if: '$CI_COMMIT_BRANCH == \"release/platform-control\"'}]\n"
    parent = [
        "stages: [contracts, build-test, package, digest-fan-in, deploy, remote-validation]",
        "workflow:",
        "  rules:",
        "    - if: '$CI_COMMIT_BRANCH == \"master\"'",
        "    - if: '$CI_COMMIT_BRANCH == \"release/platform-control\"'",
        "release-branch-guard:\n  stage: contracts\n  script: [pc-release guard]\n" + release_only.rstrip(),
    ]
    parent += [f"contract-{n:02d}:\n  stage: contracts\n  script: [echo c]" for n in range(CONTRACT_JOBS - 1)]
    for runtime in runtimes:
        parent += [
            f"unit:{runtime}:\n  stage: build-test\n  script: [echo unit]",
            f"lint:{runtime}:\n  stage: build-test\n  script: [echo lint]",
            f"publish:{runtime}:\n  stage: package\n  script: [echo publish]\n"
            "  artifacts:\n    paths: [runtime-digest.env]\n    reports: {dotenv: runtime-digest.env}\n"
            + release_only.rstrip(),
            f"smoke:{runtime}:\n  stage: remote-validation\n  script: [echo smoke]\n" + release_only.rstrip(),
        ]
    parent.append(
        "platform_control_assemble_runtime_digests:\n  stage: digest-fan-in\n  script: [echo fan-in]\n"
        + release_only.rstrip()
    )
    files: dict[str, str] = {}
    share = [runtimes[n::children] for n in range(children)]
    for n, group in enumerate(share):
        child = ["stages: [deploy]"]
        for runtime in group:
            child += [
                f"deploy:{runtime}:\n  stage: deploy\n  script: [echo deploy]",
                f"rollout:{runtime}:\n  stage: deploy\n  script: [echo rollout]",
            ]
        files[f"ci/deploy-{n}.yml"] = "\n".join(child) + "\n"
        parent.append(
            f"deploy-{n}:\n  stage: deploy\n  trigger:\n    include: ci/deploy-{n}.yml\n    strategy: depend\n"
            + release_only.rstrip()
        )
    # Up to 300: the rest of the remote validation.
    jobs = CONTRACT_JOBS + 4 * len(runtimes) + 1 + 2 * len(runtimes)
    extra = max(0, 300 - jobs)
    parent += [
        f"evidence-{n:02d}:\n  stage: remote-validation\n  script: [echo e]\n" + release_only.rstrip()
        for n in range(extra)
    ]
    files[".gitlab-ci.yml"] = "\n".join(parent) + "\n"
    matrix = "PLATFORM_CONTROL_RUNTIMES=(\n" + "".join(f"  {r}\n" for r in runtimes) + ")\n"
    files["scripts/ci/platform_control_runtime_matrix.sh"] = matrix
    files[".pc-release.yaml"] = (
        "runtime_matrix: scripts/ci/platform_control_runtime_matrix.sh\n"
        'publish_job: "publish:{runtime}"\n'
        "digest_artifact: runtime-digest.env\n"
        'digest_variable: "PLATFORM_CONTROL_RUNTIME_DIGEST_{RUNTIME}"\n'
        f"web_runtimes: [{runtimes[0]}]\n"
        "web_fast_jobs: [release-branch-guard]\n"
        "preflight:\n  checks: {}\n"
        "watched_paths: [runtimes/, scripts/ci/]\n"
    )
    for runtime in runtimes:
        files[f"runtimes/{runtime}/Dockerfile"] = DOCKERFILE
    return files, jobs + extra


def tick(server: SandboxGitLab, driver: SensorDriver) -> tuple[int, float, str]:
    server.reset_request_log()
    started = time.perf_counter()
    result = driver.tick()
    seconds = time.perf_counter() - started
    requests = [path for _, path in server.request_log if path.startswith("/api/v4/")]
    kinds: dict[str, int] = {}
    for event in result.asset_events:
        if isinstance(event, dg.AssetMaterialization):
            name = event.asset_key.to_user_string()
            kinds[name] = kinds.get(name, 0) + 1
    reported = ", ".join(f"{n} {name}" if n > 1 else name for name, n in kinds.items()) or "-"
    return len(requests), seconds, reported


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtimes", type=int, default=40)
    parser.add_argument("--children", type=int, default=4)
    args = parser.parse_args()
    os.environ["PC_RELEASE_GITLAB_TOKEN"] = TOKEN
    runtimes = [f"rt{n:02d}" for n in range(args.runtimes)]
    files, jobs = ci_files(runtimes, args.children)
    rows: list[tuple[str, int, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="pc-release-bench-large-") as tmp:
        world = make_git_world(Path(tmp) / "git", ci_yaml=files.pop(".gitlab-ci.yml"))
        world.commit("forty runtimes", files)
        world.push("master")
        with SandboxGitLab(origin=world.origin, token=TOKEN) as server, dg.instance_for_test() as instance:
            connect_clone(world.clone, "origin", server.repository_url, "PC_RELEASE_GITLAB_TOKEN")
            driver = SensorDriver(instance=instance, resources=sensor_resources(world, server.url))
            pid, _ = release(world, server, instance, change=f"runtimes/{runtimes[0]}/change.txt")
            counted = len(server.jobs(pid))
            rows.append(("in flight, nothing finished", *tick(server, driver)))
            rows.append(("in flight, nothing changed", *tick(server, driver)))
            for stage in ("contracts", "build-test"):
                finish_stage(server, pid, stage)
                rows.append((f"{stage} finished", *tick(server, driver)))
            for runtime in runtimes:
                publish(server, pid, runtime, digest="sha256:" + runtime[-2:] * 32)
            rows.append((f"{len(runtimes)} publish jobs finished (digests read)", *tick(server, driver)))
            rows.append(("in flight, nothing changed", *tick(server, driver)))
            finish_stage(server, pid, "digest-fan-in")
            rows.append(("digest fan-in finished", *tick(server, driver)))
            children = [b["downstream_pipeline"]["id"] for b in server.bridges(pid) if b.get("downstream_pipeline")]
            counted += sum(len(server.jobs(child)) for child in children)
            rows.append((f"{len(children)} child pipelines running, nothing changed", *tick(server, driver)))
            for child in children:
                finish_stage(server, child, "deploy")
            rows.append(("child pipelines finished", *tick(server, driver)))
            finish_stage(server, pid, "remote-validation")
            rows.append(("pipeline finished (record)", *tick(server, driver)))
            rows.append(("idle", *tick(server, driver)))
            record = dist_dir(world) / RECORD_FILE.format(pipeline_id=pid)
            json_size = record.stat().st_size
            (last,) = [meta(r) for r in history(instance, "release_record") if meta(r)["pipeline_id"] == pid]
            markdown = len(last["record"].encode())
            status = last["status"]
    width = max(len(label) for label, *_ in rows)
    shape = f"{args.runtimes} runtimes, {args.children} child pipelines"
    print(f"release pipeline: {counted} jobs ({jobs} in the CI files), {shape}")
    print(f"{'tick':<{width}}  GitLab requests  wall ms  reported")
    for label, requests, seconds, reported in rows:
        print(f"{label:<{width}}  {requests:>15}  {seconds * 1000:7.0f}  {reported}")
    print(f"record: {status}; JSON {json_size / 1024:.1f} KiB on disk, Markdown {markdown / 1024:.1f} KiB in the UI")
    quiet = [requests for label, requests, *_ in rows if "nothing changed" in label]
    slowest = max(seconds for _, _, seconds, _ in rows)
    print(
        f"large pipeline ({counted} jobs): ticks without news {quiet} GitLab requests; slowest tick "
        f"{slowest * 1000:.0f} ms; record {json_size / 1024:.1f} KiB JSON, {markdown / 1024:.1f} KiB Markdown"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
