"""`python -m pc_release.sandbox serve ...`: run the sandbox GitLab as its own process (e.g. for the demo).

The token comes from PC_RELEASE_GITLAB_TOKEN, never from the command line, so it stays out of `ps`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from pc_release.sandbox.gitlab_server import SandboxGitLab

TOKEN_ENV = "PC_RELEASE_GITLAB_TOKEN"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pc_release.sandbox")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the GitLab API over a bare origin until SIGTERM/SIGINT")
    serve.add_argument("--origin", type=Path, required=True, help="bare git repository acting as the project")
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: pick a free one)")
    serve.add_argument("--state-dir", type=Path, required=True, help="where pipelines, traces, artifacts live")
    serve.add_argument("--run-jobs", action="store_true", help="run pipeline jobs as local processes")
    serve.add_argument(
        "--watch-branch",
        action="append",
        default=[],
        metavar="BRANCH",
        help="start a push pipeline on every new head of BRANCH (repeatable)",
    )
    serve.add_argument("--project-path", default="platform/platform-control")
    serve.add_argument(
        "--slow-master-ci",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="with --run-jobs: hold every master pipeline running until SECONDS after it was created",
    )
    serve.add_argument(
        "--fail-master-ci", action="store_true", help="with --run-jobs: fail every job of master pipelines"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        print(f"{TOKEN_ENV} must be set to the API token clients will use", file=sys.stderr)
        return 2
    if not (args.origin / "HEAD").exists():
        print(f"--origin {args.origin} is not a git repository", file=sys.stderr)
        return 2
    server = SandboxGitLab(
        origin=args.origin,
        token=token,
        project_path=args.project_path,
        run_jobs=args.run_jobs,
        state_dir=args.state_dir,
        watch_branches=tuple(args.watch_branch),
        port=args.port,
        slow_master_ci_seconds=args.slow_master_ci,
        fail_master_ci=args.fail_master_ci,
    )
    server.start()
    # The handler raises rather than setting a threading.Event: Event.set() from a signal handler deadlocks when
    # the signal lands while the main thread holds the event's own lock inside Event.wait().
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stop_serving)
    try:
        print(server.url, flush=True)
        while True:
            # Not signal.pause(): a signal landing just before the pause would be handled only by the next one.
            time.sleep(0.5)
    except _StopServing:
        pass
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN)  # a second signal must not interrupt the shutdown
        server.stop()
    return 0


class _StopServing(Exception):
    """Raised by the SIGTERM/SIGINT handler to leave the serve loop."""


def _stop_serving(signum: int, frame: object) -> None:
    raise _StopServing


if __name__ == "__main__":
    sys.exit(main())
