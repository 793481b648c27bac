"""Benchmark P4: one promotion run against an empty Dagster job with the same number of steps.

    .venv/bin/python bench/promotion_overhead.py [--runs 5]

The promotion is the real promote_release job, executed in process on a DAGSTER_HOME instance configured like
the embedded default, against a real git origin and the sandbox GitLab over HTTP; every run promotes a new
master commit with green CI (prepared outside the timing). The empty job has one no-op asset per step the
promotion executed, chained, on an instance of the same kind. Both run once to warm up, then alternate.
Printed: median wall time of each, the promotion's slowest steps, and the ratio (goal <= 1.5x).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import dagster as dg

from pc_release.definitions import build_definitions
from pc_release.sandbox.gitlab_server import SandboxGitLab
from pc_release.settings import Settings
from pc_release_tests.gitworld import make_git_world

GOAL = 1.5
TOKEN = "bench-token"
PROJECT = "platform/platform-control"
EMBEDDED_YAML = Path(__file__).resolve().parents[1] / "dagster.yaml"


def empty_job(steps: int) -> dg.JobDefinition:
    assets = []
    for index in range(steps):

        @dg.asset(name=f"step_{index}", deps=[f"step_{index - 1}"] if index else [])
        def step() -> None:
            return None

        assets.append(step)
    defs = dg.Definitions(assets=assets, jobs=[dg.define_asset_job("empty", selection=dg.AssetSelection.all())])
    return defs.resolve_job_def("empty")


def timed(run) -> tuple[float, dg.ExecuteInProcessResult]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def step_durations(result: dg.ExecuteInProcessResult) -> dict[str, float]:
    return {
        event.step_key: event.event_specific_data.duration_ms
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.STEP_SUCCESS
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ["PC_RELEASE_GITLAB_TOKEN"] = TOKEN
    with tempfile.TemporaryDirectory(prefix="pc-release-bench-p4-") as tmp:
        root = Path(tmp)
        world = make_git_world(root / "git")
        homes = {name: root / f"dagster-home-{name}" for name in ("promotion", "empty")}
        for home in homes.values():
            home.mkdir()
            shutil.copy(EMBEDDED_YAML, home / "dagster.yaml")
        with (
            SandboxGitLab(origin=world.origin, token=TOKEN) as server,
            dg.DagsterInstance.from_config(str(homes["promotion"])) as promotion_instance,
            dg.DagsterInstance.from_config(str(homes["empty"])) as empty_instance,
        ):
            settings = Settings(
                repo_path=world.clone, gitlab_url=server.url, gitlab_project=PROJECT, dist_dir=root / "dist"
            )
            promote = build_definitions(settings).resolve_job_def("promote_release")

            def prepared_promotion():
                """A new green master commit, and the promotion of it, ready to time."""
                sha = world.commit(f"change {time.monotonic_ns()}")
                world.push("master")
                pipeline = server.create_pipeline("master", sha=sha)
                server.set_all_jobs_status(pipeline["id"], "success")
                return lambda: promote.execute_in_process(
                    run_config={"ops": {"source_commit": {"config": {"source_ref": sha}}}},
                    instance=promotion_instance,
                )

            _, warm = timed(prepared_promotion())
            steps = len(step_durations(warm))
            empty = empty_job(steps)
            timed(lambda: empty.execute_in_process(instance=empty_instance))
            samples: dict[str, list[float]] = {"promotion": [], "empty": []}
            slowest: dict[str, list[float]] = {}
            for _ in range(args.runs):
                seconds, result = timed(prepared_promotion())
                samples["promotion"].append(seconds)
                for step, millis in step_durations(result).items():
                    slowest.setdefault(step, []).append(millis)
                seconds, _ = timed(lambda: empty.execute_in_process(instance=empty_instance))
                samples["empty"].append(seconds)

    wall = {name: statistics.median(values) for name, values in samples.items()}
    print(f"promotion run ({steps} steps)   {wall['promotion'] * 1000:6.0f} ms   (median of {args.runs})")
    print(f"empty job ({steps} no-op steps) {wall['empty'] * 1000:6.0f} ms   (median of {args.runs})")
    print("promotion steps, slowest first (median ms):")
    medians = sorted(((statistics.median(v), step) for step, v in slowest.items()), reverse=True)
    for millis, step in medians[:6]:
        print(f"  {step:<45} {millis:7.1f}")
    ratio = wall["promotion"] / wall["empty"]
    verdict = "met" if ratio <= GOAL else "NOT met"
    print(f"P4 promotion run / empty job of {steps} steps: {ratio:.2f}x wall (goal <= {GOAL}x): {verdict}")


if __name__ == "__main__":
    main()
