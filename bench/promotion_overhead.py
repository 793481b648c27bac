"""Benchmark P4: one promotion run against the same graph with empty bodies.

    .venv/bin/python bench/promotion_overhead.py [--runs 5]

The promotion is the real promote_release job, executed in process on a DAGSTER_HOME instance configured like
the embedded default, against a real git origin and the sandbox GitLab over HTTP; every run promotes a new
master commit with green CI (prepared outside the timing). The empty job has one no-op asset per step the
promotion executed, chained, on an instance of the same kind. Both run once to warm up, then alternate.
The figure is the promotion against its own graph with every body emptied (the "mirror": same assets, same
inputs and IO manager, the same asset checks passing, the same check steps) but no git, GitLab or file work:
what pc-release's own work adds to what Dagster costs for the graph the gates require (goal <= 1.2x). Dagster
writes three event-log entries per asset check (planned, output, evaluation), so the mirror, not a bare chain,
is the floor a promotion with those gates can reach. The empty chain of as many no-op steps is still printed,
for the earlier figure (promotion / empty, once <= 1.5x):
  promotion / empty  = (mirror / empty: what the gates cost in Dagster) x (promotion / mirror: pc-release's work)
Printed: median wall time and events of each, the promotion's slowest steps, the events per promotion, the ratios.
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
from pc_release.sandbox.gitlab_server import SandboxGitLab, connect_clone
from pc_release.settings import Settings
from pc_release_tests.gitworld import make_git_world

GOAL = 1.2  # promotion / same graph with empty bodies
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


def mirrored_job(job: dg.JobDefinition) -> dg.JobDefinition:
    """`job`'s asset graph with empty bodies: every asset, input, dependency and asset check kept, each check
    passing, each asset storing a tiny value through the same IO manager."""
    assets, checks = [], []
    for source in job.asset_layer.asset_graph.assets_defs:
        if not source.is_executable:
            continue
        ins: dict[str, dg.AssetIn] = {}
        deps: list[dg.AssetKey] = []
        for name, key in source.keys_by_input_name.items():
            if source.node_def.input_def_named(name).dagster_type.is_nothing:
                deps.append(key)
            else:
                ins[name] = dg.AssetIn(key)
        specs = [dg.AssetCheckSpec(s.name, asset=s.asset_key, blocking=s.blocking) for s in source.check_specs]
        if source.keys:
            (key,) = source.keys
            assets.append(dg.asset(key=key, ins=ins, deps=deps, check_specs=specs)(_passing_asset(specs)))
        else:
            (spec,) = specs
            extra = {name: asset_in for name, asset_in in ins.items() if asset_in.key != spec.asset_key}
            checks.append(
                dg.asset_check(asset=spec.asset_key, name=spec.name, blocking=spec.blocking, additional_ins=extra)(
                    _passing_check
                )
            )
    io_manager = job.resource_defs["io_manager"]
    defs = dg.Definitions(
        assets=assets,
        asset_checks=checks,
        resources={"io_manager": io_manager},
        jobs=[dg.define_asset_job("mirror", selection=dg.AssetSelection.all())],
    )
    return defs.resolve_job_def("mirror")


def _passing_asset(specs: list[dg.AssetCheckSpec]):
    def body(context, **inputs):
        results = [dg.AssetCheckResult(check_name=s.name, asset_key=s.asset_key, passed=True) for s in specs]
        return dg.MaterializeResult(value=0, check_results=results)

    return body


def _passing_check(**inputs) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


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
            connect_clone(world.clone, "origin", server.repository_url, "PC_RELEASE_GITLAB_TOKEN")
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
            jobs = {"empty": empty_job(steps), "mirror": mirrored_job(promote)}
            events = {"promotion": len(promotion_instance.all_logs(warm.run_id))}
            for name, job in jobs.items():
                _, result = timed(lambda job=job: job.execute_in_process(instance=empty_instance))
                events[name] = len(empty_instance.all_logs(result.run_id))
            samples: dict[str, list[float]] = {"promotion": [], "mirror": [], "empty": []}
            slowest: dict[str, list[float]] = {}
            for _ in range(args.runs):
                seconds, result = timed(prepared_promotion())
                samples["promotion"].append(seconds)
                for step, millis in step_durations(result).items():
                    slowest.setdefault(step, []).append(millis)
                for name, job in jobs.items():
                    seconds, _ = timed(lambda job=job: job.execute_in_process(instance=empty_instance))
                    samples[name].append(seconds)

    wall = {name: statistics.median(values) for name, values in samples.items()}
    labels = {
        "promotion": f"promotion run ({steps} steps)",
        "mirror": "same graph, empty bodies",
        "empty": f"empty job ({steps} no-op steps)",
    }
    for name, label in labels.items():
        print(f"{label:<34} {wall[name] * 1000:6.0f} ms   {events[name]:4d} events   (median of {args.runs})")
    print("promotion steps, slowest first (median ms):")
    medians = sorted(((statistics.median(v), step) for step, v in slowest.items()), reverse=True)
    for millis, step in medians[:6]:
        print(f"  {step:<45} {millis:7.1f}")
    gates = wall["mirror"] / wall["empty"]
    work = wall["promotion"] / wall["mirror"]
    print(f"  of which Dagster's cost of the graph and its asset checks (mirror / empty): {gates:.2f}x")
    print(f"  of which pc-release's git, GitLab and file work (promotion / mirror):       {work:.2f}x")
    print(f"  promotion run / empty job of {steps} steps: {wall['promotion'] / wall['empty']:.2f}x wall")
    print(f"events per promotion: {events['promotion']} (same graph, empty bodies: {events['mirror']})")
    verdict = "met" if work <= GOAL else "NOT met"
    print(f"P4 promotion run / same graph with empty bodies: {work:.2f}x wall (goal <= {GOAL}x): {verdict}")


if __name__ == "__main__":
    main()
