"""Benchmark P3: `dagster definitions validate` of pc_release against an empty Definitions module.

    .venv/bin/python bench/definitions_load.py [--runs 5]

Each command runs in a fresh process, alternating, after one warm-up of each (so both find their .pyc files).
Printed: median wall and CPU time (user + sys of the child) of each, their ratio (goal <= 1.3x, judged on CPU
time, which a busy machine does not skew the way it skews wall time), and the imports pc_release adds on top of
`import dagster`, heaviest first (python -X importtime), so a regression names its cause.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 1.3
DAGSTER = Path(sys.executable).with_name("dagster")
_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def _env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PC_RELEASE_", "PLATFORM_CONTROL_"))}
    env["DAGSTER_HOME"] = str(workdir / "dagster-home")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(workdir), env.get("PYTHONPATH")]))
    return env


def _validate(module: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one `dagster definitions validate -m module` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [str(DAGSTER), "definitions", "validate", "-m", module], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"dagster definitions validate -m {module} failed:\n{done.stdout}\n{done.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _import_tree(statement: str, env: dict[str, str]) -> list[tuple[str, str | None, int, int]]:
    """(module, importing module, own us, cumulative us) for everything `statement` imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement], env=env, capture_output=True, text=True
    )
    rows = []
    for line in done.stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            rows.append((match.group(4), len(match.group(3)), int(match.group(1)), int(match.group(2))))
    # importtime prints a module after everything it imported, one indent level deeper.
    tree, stack = [], []
    for module, depth, own, cumulative in reversed(rows):
        while stack and stack[-1][1] >= depth:
            stack.pop()
        tree.append((module, stack[-1][0] if stack else None, own, cumulative))
        stack.append((module, depth))
    return tree


def heavy_imports(env: dict[str, str], top: int = 8) -> list[tuple[str, float]]:
    """What pc_release.definitions costs to import on top of `import dagster`: its own modules (their
    module-level work), then each third-party package it imports itself, by cumulative time in ms."""
    base = {module for module, *_ in _import_tree("import dagster", env)}
    tree = _import_tree("import pc_release.definitions", env)
    own = sum(own for module, _, own, _ in tree if module.startswith("pc_release"))
    third_party = sorted(
        (
            (module, cumulative / 1000)
            for module, parent, _, cumulative in tree
            if module not in base
            and not module.startswith("pc_release")
            and parent is not None
            and parent.startswith("pc_release")
        ),
        key=lambda item: -item[1],
    )
    return [("pc_release (own modules)", own / 1000), *third_party[:top]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pc-release-bench-p3-") as tmp:
        workdir = Path(tmp)
        (workdir / "dagster-home").mkdir()
        (workdir / "dagster-home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        (workdir / "empty_definitions.py").write_text("import dagster as dg\n\ndefs = dg.Definitions()\n")
        env = _env(workdir)
        modules = {"pc_release": "pc_release.definitions", "empty": "empty_definitions"}
        for module in modules.values():
            _validate(module, env)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in modules}
        for _ in range(args.runs):
            for name, module in modules.items():
                samples[name].append(_validate(module, env))
        heavy = heavy_imports(env)

    wall = {name: statistics.median(s[0] for s in runs) for name, runs in samples.items()}
    cpu = {name: statistics.median(s[1] for s in runs) for name, runs in samples.items()}
    for name in modules:
        print(f"{name:<10} wall {wall[name] * 1000:6.0f} ms   cpu {cpu[name] * 1000:6.0f} ms   (median of {args.runs})")
    print("what `import pc_release.definitions` adds to `import dagster`:")
    for package, millis in heavy:
        print(f"  {package:<40} {millis:7.1f} ms")
    ratio, wall_ratio = cpu["pc_release"] / cpu["empty"], wall["pc_release"] / wall["empty"]
    verdict = "met" if ratio <= GOAL else "NOT met"
    print(
        f"P3 definitions validate, pc_release / empty Definitions: {ratio:.2f}x cpu, {wall_ratio:.2f}x wall "
        f"(goal <= {GOAL}x): {verdict}"
    )


if __name__ == "__main__":
    main()
