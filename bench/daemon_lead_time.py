"""Benchmark: lead time from master CI turning green to the release pipeline created, through the daemon.

    .venv/bin/python bench/daemon_lead_time.py [--samples 3] [--interval 10] [--sample-repo]

`dagster-daemon run` on a throwaway PostgreSQL with the shipped single-host instance config (run queue, default
run launcher: each run in a process of its own), its sensors turned on through `dagster-webserver`'s GraphQL,
auto-promotion on, master_ci_sensor ticking every --interval seconds, the clone provisioned by the run over the
sandbox GitLab's HTTP URL. Each sample pushes a master commit, waits for GitLab's push pipeline and turns it
green, and waits for the release pipeline the promotion creates; the next sample starts once that run has ended.

Printed per sample: the lead time (green -> release pipeline created, GitLab's own timestamps on both ends),
split into the sensor's wait, the queue and the launch (up to RUN_START in the new run process), the first
step's start (the forkserver importing the code location), and the promotion's steps; the gates' own
work (each step's body, as Dagster times it, along the longest chain of steps up to the trigger); and the
promotion's wall time against the slower of local_preflight and release_readiness plus the push and trigger.
Goals: lead time minus the gates' own work <= the sensor interval + 5 s; promotion wall <= 1.15x (slower gate +
push + trigger). The minimal repository's gates take well under a second, so the second ratio is mostly
Dagster's fixed cost there; --sample-repo promotes the sandbox's sample platform-control (real preflight and
readiness checks) instead.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import dagster as dg

from pc_release.sandbox.gitlab_server import SandboxGitLab
from pc_release_tests.gitworld import GitWorld, git, make_git_world
from pc_release_tests.production.daemon import (
    base_env,
    production_home,
    running_daemon,
    running_webserver,
    start_sensor,
)
from pc_release_tests.production.postgres import running_postgres

TOKEN = "bench-token"
PROJECT = "platform/platform-control"
SHA_TAG = "pc-release/source-sha"
WAIT_SECONDS = 600.0
LEAD_GOAL_EXTRA = 5.0
WALL_GOAL = 1.15
GATES = ("local_preflight", "release_readiness")
PUSH_AND_TRIGGER = ("release_branch", "release_pipeline")


def wait(what: str, predicate, timeout: float = WAIT_SECONDS, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(interval)
    return value


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def pipeline_of(server: SandboxGitLab, ref: str, sha: str) -> dict | None:
    return next((p for p in server.pipelines() if p["ref"] == ref and p["sha"] == sha), None)


def step_dependencies() -> dict[str, set[str]]:
    """Step key -> the step keys it waits for, from promote_release's execution plan."""
    from dagster._core.execution.api import create_execution_plan

    from pc_release.definitions import build_definitions

    plan = create_execution_plan(build_definitions().resolve_job_def("promote_release"))
    return {step.key: set(step.get_execution_dependency_keys()) for step in plan.steps}


def longest_chain(durations: dict[str, float], deps: dict[str, set[str]], end: str) -> float:
    """The largest sum of step durations along a chain of dependencies ending at `end`."""
    memo: dict[str, float] = {}

    def cost(key: str) -> float:
        if key not in memo:
            memo[key] = durations.get(key, 0.0) + max((cost(d) for d in deps.get(key, ())), default=0.0)
        return memo[key]

    return cost(end)


def measure(instance: dg.DagsterInstance, run_id: str, green: float, created: float, deps) -> dict[str, float]:
    record = instance.get_run_record_by_id(run_id)
    steps: dict[str, float] = {}
    started: dict[str, float] = {}
    run_start = run_end = None
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[event.step_key] = entry.timestamp
        elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
            steps[event.step_key] = event.event_specific_data.duration_ms / 1000
        elif event.event_type == dg.DagsterEventType.RUN_START:
            run_start = entry.timestamp
        elif event.event_type == dg.DagsterEventType.RUN_SUCCESS:
            run_end = entry.timestamp
    requested = record.create_timestamp.timestamp()
    return {
        "lead": created - green,
        "sensor": requested - green,
        "queue_launch": (record.start_time or run_start) - requested,
        "worker_start": min(started.values()) - (record.start_time or run_start),
        "steps_to_trigger": created - min(started.values()),
        "gate_work": longest_chain(steps, deps, "release_pipeline"),
        "wall": run_end - run_start,
        "critical": max(steps.get(g, 0.0) for g in GATES) + sum(steps.get(s, 0.0) for s in PUSH_AND_TRIGGER),
    }


def make_world(root: Path, sample_repo: bool) -> GitWorld:
    if not sample_repo:
        return make_git_world(root)
    from pc_release.sandbox.sample import create_sample_origin

    origin, clone = create_sample_origin(root)
    git(clone, "config", "user.email", "bench@example.test")
    git(clone, "config", "user.name", "Bench")
    return GitWorld(origin=origin, clone=clone, other=root / "other")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--interval", type=int, default=10, help="master_ci_sensor's minimum interval (seconds)")
    parser.add_argument("--sample-repo", action="store_true", help="promote the sandbox's sample platform-control")
    args = parser.parse_args()
    os.environ.setdefault("PC_RELEASE_GITLAB_TOKEN", TOKEN)  # the plan is built from the real resources
    deps = step_dependencies()
    rows = []
    with tempfile.TemporaryDirectory(prefix="pc-release-bench-daemon-") as tmp, running_postgres() as postgres:
        root = Path(tmp)
        world = make_world(root / "git", args.sample_repo)
        home = production_home(root / "dagster-home")
        os.environ.update(postgres.env)
        with SandboxGitLab(origin=world.origin, token=TOKEN, watch_branches=("master",)) as server:
            env = base_env() | postgres.env
            env |= {
                "PC_RELEASE_GITLAB_URL": server.url,
                "PC_RELEASE_GITLAB_PROJECT": PROJECT,
                "PC_RELEASE_GITLAB_TOKEN": TOKEN,
                "PC_RELEASE_CLONE_CACHE": str(root / "clones"),
                "PC_RELEASE_DIST_DIR": str(root / "dist"),
                "PC_RELEASE_AUTO_PROMOTION": "true",
                "PC_RELEASE_MASTER_CI_SENSOR_INTERVAL_SECONDS": str(args.interval),
                "PC_RELEASE_RELEASE_PIPELINE_SENSOR_INTERVAL_SECONDS": "60",
            }
            with (
                running_daemon(home, env, root / "daemon.log") as daemon,
                running_webserver(home, env, root / "webserver.log") as webserver,
                dg.DagsterInstance.from_config(str(home)) as instance,
            ):
                wait("the webserver", webserver.answers, interval=0.5)
                for sensor in ("master_ci_sensor", "release_pipeline_sensor"):
                    start_sensor(webserver, sensor)  # whatever their default status
                # Warm-up: the daemon's first tick loads the code location and the first run clones.
                for sample in range(args.samples + 1):
                    sha = world.commit(f"bench change {sample} {time.monotonic_ns()}")
                    world.push("master")
                    master = wait("master pipeline", lambda sha=sha: pipeline_of(server, "master", sha))
                    green = time.time()
                    server.set_all_jobs_status(master["id"], "success")
                    release = wait(
                        "release pipeline",
                        lambda sha=sha: pipeline_of(server, "release/platform-control", sha),
                        interval=0.05,
                    )

                    def ended(sha=sha):
                        runs = instance.get_runs(filters=dg.RunsFilter(tags={SHA_TAG: sha}))
                        return runs and runs[0].is_finished and runs[0]

                    run = wait("the promotion to end", ended, interval=0.2)
                    if run.status != dg.DagsterRunStatus.SUCCESS:
                        print(daemon.tail(), file=sys.stderr)
                        raise SystemExit(f"promotion {run.run_id} ended {run.status}")
                    if sample:
                        rows.append(measure(instance, run.run_id, green, epoch(release["created_at"]), deps))
    print(f"master_ci_sensor interval {args.interval} s; {args.samples} samples after a warm-up")
    keys = ("lead", "sensor", "queue_launch", "worker_start", "steps_to_trigger", "gate_work", "wall", "critical")
    print("  ".join(f"{k:>16}" for k in keys))
    for row in rows:
        print("  ".join(f"{row[k]:>15.2f}s" for k in keys))
    median = {k: statistics.median(row[k] for row in rows) for k in keys}
    overhead = median["lead"] - median["gate_work"]
    goal = args.interval + LEAD_GOAL_EXTRA
    print(
        f"daemon lead time: {median['lead']:.1f} s green -> release pipeline, {median['gate_work']:.1f} s of it the "
        f"gates' own work: {overhead:.1f} s (goal <= interval + {LEAD_GOAL_EXTRA:.0f} s = {goal:.0f} s): "
        + ("met" if overhead <= goal else "NOT met")
    )
    ratio = median["wall"] / median["critical"] if median["critical"] else float("inf")
    print(
        f"promotion wall {median['wall']:.1f} s vs slower gate + push + trigger {median['critical']:.1f} s: "
        f"{ratio:.2f}x (goal <= {WALL_GOAL}x): " + ("met" if ratio <= WALL_GOAL else "NOT met")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
