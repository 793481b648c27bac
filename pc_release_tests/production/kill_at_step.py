"""Run promote_release and SIGKILL this process right after one step's side effect, as a crash would.

    python kill_at_step.py STEP SOURCE_REF

STEP is one of after-resolve, after-push, after-candidate, after-trigger; or in-preflight (once a preflight
command writes to the FIFO named by $PREFLIGHT_READY in its environment, i.e. once it has started what it
starts) or in-readiness (while the schema checks' throwaway PostgreSQL serves). Everything else comes from the
environment the `pc-release` CLI reads (PC_RELEASE_*, PC_RELEASE_GITLAB_TOKEN, DAGSTER_HOME). The process
never returns normally: no `finally`, no run-failure event, no lock release, exactly like `kill -9`.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

import dagster as dg

from pc_release.definitions import build_definitions
from pc_release.readiness import evaluate
from pc_release.resources.commands import CommandRunnerResource
from pc_release.resources.files import ReleaseFilesResource
from pc_release.resources.git import GitClone, GitResource
from pc_release.resources.gitlab import GitLabResource
from pc_release.settings import Settings


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class _ResolveThenDie(GitClone):
    def resolve(self, ref: str) -> str:
        sha = super().resolve(ref)
        _die()
        return sha


class _PushThenDie(GitClone):
    def push_release(self, sha: str, expected: str | None) -> bool:
        pushed = super().push_release(sha, expected)
        _die()
        return pushed


class DyingGit(GitResource):
    step: str

    def clone(self) -> GitClone:
        kind = {"after-resolve": _ResolveThenDie, "after-push": _PushThenDie}.get(self.step, GitClone)
        return kind(Path(self.repo_path), self.remote, self.master_branch, self.release_branch)


class DyingFiles(ReleaseFilesResource):
    def write_candidate(self, values):
        candidate = super().write_candidate(values)
        _die()
        return candidate


class DyingGitLab(GitLabResource):
    def create_release_pipeline(self, sha, variables, **options):
        created = super().create_release_pipeline(sha, variables, **options)
        _die()
        return created


class DyingCommands(CommandRunnerResource):
    def run(self, command, *, cwd, env, timeout):
        ready = Path(tempfile.mkdtemp(prefix="pc-release-ready-")) / "ready"
        os.mkfifo(ready)
        threading.Thread(target=lambda: (ready.read_text(), _die()), daemon=True).start()
        return super().run(command, cwd=cwd, env={**env, "PREFLIGHT_READY": str(ready)}, timeout=timeout)


def _die_with_postgres_serving(*args, **kwargs):
    _die()


def dying_resources(step: str, settings: Settings) -> dict:
    if step in ("after-resolve", "after-push"):
        return {"git": DyingGit(repo_path=str(settings.repo_path), step=step)}
    if step == "after-candidate":
        return {"release_files": DyingFiles(dist_dir=str(settings.candidate_dir))}
    if step == "in-preflight":
        return {"commands": DyingCommands()}
    if step == "in-readiness":
        # The schema scenarios run once the throwaway server is up (evaluate imported them by name).
        evaluate.run_scenarios = _die_with_postgres_serving
        return {}
    if step == "after-trigger":
        return {
            "gitlab": DyingGitLab(
                url=settings.gitlab_url, project=settings.gitlab_project, token=dg.EnvVar("PC_RELEASE_GITLAB_TOKEN")
            )
        }
    raise SystemExit(f"unknown step {step!r}")


def main(step: str, source_ref: str) -> None:
    settings = Settings()
    job = build_definitions(settings, dying_resources(step, settings)).resolve_job_def("promote_release")
    with dg.DagsterInstance.get() as instance:
        job.execute_in_process(
            run_config={"ops": {"source_commit": {"config": {"source_ref": source_ref}}}}, instance=instance
        )
    raise SystemExit(f"the promotion finished without reaching {step}")


if __name__ == "__main__":
    main(*sys.argv[1:])
