"""Benchmark: the drift audit on a generated repository of 50,000 commits and 20,000 files, against the raw git
commands it needs.

    .venv/bin/python bench/drift_audit.py [--commits 50000] [--files 20000] [--workdir DIR] [--runs 5]

The repository is written with `git fast-import` (seconds, not minutes) and kept in --workdir for reruns. The
release branch sits 1,000 commits behind master and carries three release-only commits: a deleted runtime
file, a dropped config key and a patched API file, so every check has work to do. Each measurement runs in a
fresh process: the audit (gathering every fact and judging it, as the release_drift asset does) and a shell
script replaying the exact git argv the audit ran. Printed: median wall time of each, their ratio (goal
<= 1.3x) and peak memory (goal <= 150 MB), plus the full Dagster drift_audit run for reference.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RELEASE = "release/platform-control"
BEHIND = 1_000
RELEASE_CONFIG = """\
watched_paths: [runtimes/, api/, sdk/, deploy/]
web_only_paths: [frontend/]
"""
RUNTIME_YAML = "listen: 0.0.0.0:8080\nterminal:\n  internal_ws_transport: unix\n  idle_timeout: 30\n"
AREAS = ("runtimes", "frontend", "api", "sdk", "deploy", "services", "libs", "docs")


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n%s\n" % (len(raw), raw)


def _commit(ref: str, mark: int, when: int, message: str, changes: list[bytes], parent: int | None = None) -> bytes:
    who = b"Bench Author <bench@example.test> %d +0000\n" % when
    head = b"commit %s\nmark :%d\nauthor %scommitter %s" % (ref.encode(), mark, who, who)
    return head + _data(message) + (b"from :%d\n" % parent if parent else b"") + b"".join(changes)


def _modify(path: str, content: str) -> bytes:
    return b"M 100644 inline %s\n" % path.encode() + _data(content)


def generate(root: Path, commits: int, files: int) -> Path:
    """A bare origin written by `git fast-import` and a no-checkout clone of it; returns the clone."""
    origin, clone = root / "origin.git", root / "clone"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "master", str(origin)], check=True)
    paths = [f"{AREAS[i % len(AREAS)]}/d{i // 100:03d}/f{i % 100:02d}.txt" for i in range(files - 3)]
    start = int(time.time()) - commits * 60 - 3600
    importer = subprocess.Popen(["git", "fast-import", "--quiet", "--done"], cwd=origin, stdin=subprocess.PIPE)
    assert importer.stdin is not None
    first = [_modify(p, f"{p} v0\n") for p in paths] + [
        _modify(".pc-release.yaml", RELEASE_CONFIG),
        _modify("runtimes/terminal-gateway/listener.py", "print('internal listener')\n"),
        _modify("runtimes/terminal-gateway/runtime.yaml", RUNTIME_YAML),
    ]
    importer.stdin.write(_commit("refs/heads/master", 1, start, "initial layout", first))
    for i in range(2, commits + 1):
        path = paths[(i * 7919) % len(paths)]
        importer.stdin.write(_commit("refs/heads/master", i, start + i * 60, f"change {i}", [_modify(path, f"v{i}\n")]))
    fork = commits - BEHIND
    release_only = [
        ("hotfix: drop the internal listener", [b"D runtimes/terminal-gateway/listener.py\n"]),
        ("hotfix: trim runtime config", [_modify("runtimes/terminal-gateway/runtime.yaml", "listen: 0.0.0.0:8080\n")]),
        ("hotfix: patch the api", [_modify("api/d002/f02.txt", "patched on release\n")]),
    ]
    ref = f"refs/heads/{RELEASE}"
    for n, (message, changes) in enumerate(release_only, start=1):
        parent = fork if n == 1 else None
        when = start + (fork + n) * 60
        importer.stdin.write(_commit(ref, commits + n, when, message, changes, parent))
    importer.stdin.write(b"done\n")
    importer.stdin.close()
    if importer.wait() != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(origin), str(clone)], check=True)
    return clone


def measure_audit(clone: Path) -> dict:
    """In this (fresh) process: the audit's wall time, its git argv, and peak memory."""
    from datetime import UTC, datetime, timedelta

    # GitClone imports GitPython lazily (P3); import it here with everything else, so the timing below holds
    # the audit's git work and not GitPython's import (which also runs `git version`), as in a code server.
    import git  # noqa: F401

    from pc_release.defs.audit.drift import read_drift_state
    from pc_release.defs.audit.reads import GitReads
    from pc_release.policy.audit import audit_verdicts
    from pc_release.resources.git import GitClone

    imported_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    reads = GitReads(GitClone(clone, "origin", "master", RELEASE))
    state = read_drift_state(reads, last=None, now=datetime.now(UTC))
    verdicts = audit_verdicts(state, timedelta(hours=24))
    wall = time.perf_counter() - started
    return {
        "wall": wall,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "imported_rss_mb": imported_rss,
        "commands": [list(c) for c in reads.commands],
        "findings": {v.rule: ("fail" if not v.ok else "warn" if v.warning else "pass") for v in verdicts},
        "behind": state.behind,
        "ahead": state.ahead,
    }


def measure_raw(clone: Path, commands: list[list[str]]) -> dict:
    """The same git argv from a shell script, in order, output discarded."""
    script = "".join(f"git {shlex.join(argv)} >/dev/null\n" for argv in commands)
    started = time.perf_counter()
    subprocess.run(["bash", "-c", script], cwd=clone, check=True)
    wall = time.perf_counter() - started
    return {"wall": wall, "git_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def measure_job(clone: Path) -> dict:
    """The whole drift_audit Dagster run on an ephemeral instance: audit plus Dagster's own bookkeeping."""
    os.environ.setdefault("PC_RELEASE_GITLAB_TOKEN", "bench-unused")
    import dagster as dg

    from pc_release.definitions import build_definitions
    from pc_release.settings import Settings

    settings = Settings(repo_path=clone, dist_dir=clone.parent / "dist")
    job = build_definitions(settings).resolve_job_def("drift_audit")
    with dg.instance_for_test() as instance:
        started = time.perf_counter()
        result = job.execute_in_process(instance=instance, raise_on_error=False)
        wall = time.perf_counter() - started
    return {
        "wall": wall,
        "success": result.success,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=50_000)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "pc-release-bench-drift")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--measure", choices=("audit", "raw", "job"), help=argparse.SUPPRESS)
    parser.add_argument("--clone", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--commands", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure == "audit":
        print(json.dumps(measure_audit(args.clone)))
        return 0
    if args.measure == "raw":
        print(json.dumps(measure_raw(args.clone, json.loads(args.commands))))
        return 0
    if args.measure == "job":
        print(json.dumps(measure_job(args.clone)))
        return 0

    root = args.workdir / f"c{args.commits}-f{args.files}"
    clone = root / "clone"
    if not clone.exists():
        root.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        generate(root, args.commits, args.files)
        print(f"generated {args.commits} commits, {args.files} files in {time.perf_counter() - started:.1f}s: {root}")
    count = subprocess.run(["git", "rev-list", "--count", "origin/master"], cwd=clone, capture_output=True, text=True)
    tree = subprocess.run(["git", "ls-tree", "-r", "--name-only", "origin/master"], cwd=clone, capture_output=True)
    files = len(tree.stdout.splitlines())
    print(f"repository: {count.stdout.strip()} commits on master, {files} files; {root}")

    audits, raws = [], []
    for _ in range(args.runs):
        audit = _child("--measure", "audit", "--clone", str(clone))
        raw = _child("--measure", "raw", "--clone", str(clone), "--commands", json.dumps(audit["commands"]))
        audits.append(audit)
        raws.append(raw)
    job = _child("--measure", "job", "--clone", str(clone))

    audit_wall = statistics.median(a["wall"] for a in audits)
    raw_wall = statistics.median(r["wall"] for r in raws)
    peak = max(a["rss_mb"] for a in audits)
    # Measured on the shell replay: a child forked from Python reports the parent's pages as its own peak.
    git_peak = max(r["git_rss_mb"] for r in raws)
    last = audits[-1]
    print(f"audit findings: {json.dumps(last['findings'])} (behind {last['behind']}, release-only {last['ahead']})")
    print(f"git commands per audit: {len(last['commands'])}")
    for argv in last["commands"]:
        print(f"  git {shlex.join(argv)}")
    print(f"audit wall time (median of {args.runs}): {audit_wall * 1000:.0f} ms")
    print(f"raw git commands (median of {args.runs}): {raw_wall * 1000:.0f} ms")
    ratio = audit_wall / raw_wall
    print(f"ratio audit / raw git: {ratio:.2f}x (goal <= 1.3x): {'met' if ratio <= 1.3 else 'NOT met'}")
    print(
        f"peak memory: audit process {peak:.0f} MB (of which {last['imported_rss_mb']:.0f} MB is the interpreter "
        f"and imports), largest git process {git_peak:.0f} MB (goal <= 150 MB): {'met' if peak <= 150 else 'NOT met'}"
    )
    print(
        f"for reference, the drift_audit Dagster run: {job['wall'] * 1000:.0f} ms wall "
        f"(success={job['success']}), process peak {job['rss_mb']:.0f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
