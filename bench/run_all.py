"""Run every benchmark in bench/ and print one table of their figures.

    .venv/bin/python bench/run_all.py [--timeout SECONDS] [SCRIPT ...]

Each script runs with its defaults in its own process; its result is every output line that states a goal
(every benchmark here prints at least one), shown next to the figure it measures. A figure no script reported is
listed as not measured yet.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
# What each script measures, by the numbering.
FIGURES = {
    "drift_audit.py": ("P1", "drift audit vs raw git"),
    "sensor_requests.py": ("P2", "GitLab requests per release_pipeline_sensor tick"),
    "sensor_idle_requests.py": ("P2", "GitLab requests per idle master_ci_sensor tick"),
    "definitions_load.py": ("P3", "dagster definitions validate vs empty Definitions"),
    "promotion_overhead.py": ("P4", "promotion run vs the same graph with empty bodies"),
    "preflight_parallelism.py": ("P5", "local preflight vs its slowest check"),
    "daemon_lead_time.py": ("P6", "green master -> release pipeline through the daemon; promotion vs its gates"),
    "large_pipeline.py": ("P7", "release_pipeline_sensor on 300 jobs, 40 runtimes, child pipelines"),
}
EXPECTED = {"P1", "P2", "P3", "P4", "P5", "P6", "P7"}


def verdict_line(output: str) -> str:
    """Every line of the output that states a goal (a figure and its verdict), else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    with_goal = [line for line in lines if "goal" in line.lower()]
    return " | ".join(with_goal) if with_goal else (lines or ["(no output)"])[-1]


def run(script: Path, timeout: float) -> tuple[str, float]:
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, str(script)], cwd=BENCH.parent, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:.0f}s", time.perf_counter() - started
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        return f"failed (exit {done.returncode}): {verdict_line(done.stderr or done.stdout)}", seconds
    return verdict_line(done.stdout), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("scripts", nargs="*", help="script names (default: every bench/*.py but this one)")
    args = parser.parse_args()
    names = args.scripts or sorted(p.name for p in BENCH.glob("*.py") if p.name != Path(__file__).name)
    rows = []
    for name in names:
        figure, title = FIGURES.get(name, ("-", name))
        print(f"running {name} ...", file=sys.stderr, flush=True)
        result, seconds = run(BENCH / name, args.timeout)
        rows.append((figure, name, title, result, f"{seconds:.0f}s"))
    reported = {row[0] for row in rows}
    rows += [(figure, "-", "-", "not measured yet", "-") for figure in sorted(EXPECTED - reported)]
    rows.sort(key=lambda row: (row[0], row[1]))
    header = ("figure", "script", "what", "result (the lines stating a goal)", "took")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    main()
