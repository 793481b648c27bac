"""Benchmark: local preflight wall time against its slowest single check (goal: at most 1.2x).

Runs the real local preflight (Playwright e2e on Debian's chromium, role authz smoke, kind parity) on the
sandbox sample repository, the way `local_preflight` does, and prints each check's time, the preflight's wall
time, the slowest check, the sum of all checks (what a sequential run would cost) and the ratio.

    .venv/bin/python bench/preflight_parallelism.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pc_release.models import PromotionRequest
from pc_release.preflight.runner import run_local_preflight
from pc_release.resources.commands import CommandRunnerResource
from pc_release.resources.git import GitClone
from pc_release.resources.kubernetes import KubernetesResource
from pc_release.sandbox.sample import create_sample_origin

GOAL = 1.2
NODE_MODULES = Path(__file__).resolve().parents[1] / "pc_release" / "sandbox" / "node" / "node_modules"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="preflight runs to time (default 3)")
    args = parser.parse_args()
    node_modules = os.environ.get("PC_RELEASE_NODE_MODULES") or str(NODE_MODULES)
    commands = CommandRunnerResource(env={"PC_RELEASE_NODE_MODULES": node_modules})
    ratios = []
    with tempfile.TemporaryDirectory(prefix="pc-bench-") as tmp:
        _, clone_path = create_sample_origin(Path(tmp))
        clone = GitClone(clone_path, "origin", "master", "release/platform-control")
        sha = clone.resolve("HEAD")
        print(f"sample repo at {sha[:12]}, node_modules {node_modules}, {os.cpu_count()} CPU(s)")
        for run in range(1, args.runs + 1):
            started = time.monotonic()
            report = run_local_preflight(clone, sha, PromotionRequest(), commands, KubernetesResource())
            wall = time.monotonic() - started
            times = {check.name: check.duration_seconds for check in report.checks}
            slowest_name = max(times, key=times.get)
            slowest = times[slowest_name]
            ratio = wall / slowest
            ratios.append(ratio)
            shown = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in times.items())
            print(f"run {run}: preflight {report.status}; {shown}")
            print(
                f"run {run}: wall {wall:.2f}s, slowest check {slowest_name} {slowest:.2f}s, "
                f"sum of checks {sum(times.values()):.2f}s, wall/slowest {ratio:.3f}x"
            )
            if report.status != "passed":
                print(f"run {run}: preflight did not pass: {report.reason}", file=sys.stderr)
    median = statistics.median(ratios)
    verdict = "meets" if median <= GOAL else "misses"
    print(f"median wall/slowest over {len(ratios)} run(s): {median:.3f}x ({verdict} the goal of <= {GOAL}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
