"""Benchmark: GitLab requests per master_ci_sensor tick, idle and not, as master's pipeline history grows.

    .venv/bin/python bench/sensor_idle_requests.py [--histories 0,100,1000]

Runs the real sensor (build_sensor_context on an ephemeral instance) against a real git origin and the sandbox
GitLab over HTTP, and counts requests with the sandbox's request_log. The release branch is read with one
`git ls-remote` (no GitLab request). Goal: at most 2 GitLab requests per idle tick, independent of history.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import dagster as dg

from pc_release.defs.automation.sensors import master_ci_sensor_for
from pc_release.resources.git import GitResource
from pc_release.resources.gitlab import GitLabResource
from pc_release.resources.policy import ReleasePolicyResource
from pc_release.sandbox.gitlab_server import SandboxGitLab
from pc_release_tests.gitworld import RELEASE_BRANCH, git, make_git_world

TOKEN = "bench-token"


def tick(world, server, instance, cursor: str | None, auto_promotion: bool = True) -> tuple[int, int, str | None, str]:
    """(GitLab requests, run requests, new cursor, what the sensor said) for one tick."""
    server.reset_request_log()
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={
            "git": GitResource(repo_path=str(world.clone)),
            "gitlab": GitLabResource(url=server.url, project="platform/platform-control", token=TOKEN),
            "policy": ReleasePolicyResource(auto_promotion=auto_promotion),
        },
    )
    result = master_ci_sensor_for(auto_promotion)(context)
    requests = len(server.request_log)
    if isinstance(result, dg.SensorResult):
        runs = list(result.run_requests or [])
        return requests, len(runs), result.cursor, f"requested {runs[0].run_key}"
    return requests, 0, cursor, result.skip_message or ""


def scenario_rows(history: int, root: Path) -> list[tuple[str, int, int]]:
    world = make_git_world(root)
    rows = []
    with SandboxGitLab(origin=world.origin, token=TOKEN) as server, dg.instance_for_test() as instance:
        old = git(world.clone, "rev-parse", "HEAD")
        for _ in range(history):
            server.create_pipeline("master", sha=old)

        def advance(message: str) -> str:
            sha = world.commit(message)
            world.push("master")
            return sha

        def pipeline(sha: str, status: str) -> int:
            created = server.create_pipeline("master", sha=sha)
            server.set_all_jobs_status(created["id"], status)
            return created["id"]

        requests, _, _, _ = tick(world, server, instance, None, auto_promotion=False)
        rows.append(("auto-promotion off", requests, 0))

        requests, runs, _, _ = tick(world, server, instance, None)
        rows.append(("release already at master head", requests, runs))

        head = advance("pushed, no pipeline yet")
        requests, runs, _, _ = tick(world, server, instance, None)
        rows.append(("head has no pipeline yet", requests, runs))

        running = pipeline(head, "running")
        requests, runs, _, _ = tick(world, server, instance, None)
        rows.append(("head pipeline running", requests, runs))

        server.set_all_jobs_status(running, "success")
        requests, runs, cursor, _ = tick(world, server, instance, None)
        rows.append(("head turned green (not idle: one run request)", requests, runs))

        for _ in range(3):
            requests, runs, cursor, _ = tick(world, server, instance, cursor)
        rows.append(("head already requested (repeat ticks)", requests, runs))

        red = advance("broken change")
        pipeline(red, "failed")
        requests, runs, _, _ = tick(world, server, instance, cursor)
        rows.append(("head pipeline failed", requests, runs))

        git(world.clone, "push", "-q", "--force", "origin", f"{red}:refs/heads/{RELEASE_BRANCH}")
        requests, runs, _, _ = tick(world, server, instance, cursor)
        rows.append(("release moved to head", requests, runs))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--histories", default="0,100,1000", help="master pipelines already in GitLab")
    args = parser.parse_args()
    os.environ["PC_RELEASE_GITLAB_TOKEN"] = TOKEN
    histories = [int(n) for n in args.histories.split(",")]
    table: dict[str, list[str]] = {}
    worst_idle = 0
    with tempfile.TemporaryDirectory(prefix="pc-release-bench-sensor-") as tmp:
        for history in histories:
            for name, requests, runs in scenario_rows(history, Path(tmp) / f"h{history}"):
                table.setdefault(name, []).append(f"{requests}")
                if runs == 0:
                    worst_idle = max(worst_idle, requests)
    width = max(len(name) for name in table)
    print("GitLab requests per master_ci_sensor tick, by master pipelines already in GitLab")
    print(f"{'tick':<{width}}  " + "  ".join(f"{h:>6}" for h in histories))
    for name, counts in table.items():
        print(f"{name:<{width}}  " + "  ".join(f"{c:>6}" for c in counts))
    verdict = "met" if worst_idle <= 2 else "NOT met"
    print(f"worst idle tick: {worst_idle} GitLab request(s) (goal <= 2, independent of history): {verdict}")
    print("each tick also runs one `git ls-remote` for the master and release heads (no GitLab request)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
