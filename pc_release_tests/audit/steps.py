"""Steps shared by the audit and automation tests: a platform-like git world, green CI, release-only edits,
and the drift audit run through its Dagster job."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from pc_release.definitions import build_definitions
from pc_release_tests.gitworld import RELEASE_BRANCH, GitWorld, git
from pc_release_tests.promotion_harness import promote, settings_for

RELEASE_CONFIG = """\
web_only_paths: [frontend/]
watched_paths:
  - runtimes/
  - sdk/
"""
RUNTIME_YAML = "listen: 0.0.0.0:8080\nterminal:\n  internal_ws_transport: unix\n  idle_timeout: 30\n"
PLATFORM_FILES = {
    ".pc-release.yaml": RELEASE_CONFIG,
    "runtimes/terminal-gateway/listener.py": "print('internal listener')\n",
    "runtimes/terminal-gateway/runtime.yaml": RUNTIME_YAML,
    "runtimes/api/app.py": "app = 'api'\n",
    "frontend/app.js": "console.log('web')\n",
    "sdk/client.py": "VERSION = 1\n",
}


def green(server, sha: str, status: str = "success") -> int:
    pipeline = server.create_pipeline("master", sha=sha)
    server.set_all_jobs_status(pipeline["id"], status)
    return pipeline["id"]


def advance_master(world: GitWorld, message: str, files: dict[str, str] | None = None) -> str:
    sha = world.commit(message, files)
    world.push("master")
    return sha


def release_edit(
    world: GitWorld,
    message: str,
    files: dict[str, str] | None = None,
    delete: tuple[str, ...] = (),
    cherry_pick: str | None = None,
) -> str:
    """A commit made directly on the release branch from another clone: what the policy forbids."""
    other = world.other
    git(other, "fetch", "-q", "origin")
    git(other, "checkout", "-q", "-B", "hotfix", f"origin/{RELEASE_BRANCH}")
    if cherry_pick:
        git(other, "cherry-pick", "-x", cherry_pick)
    else:
        for name, content in (files or {}).items():
            (other / name).parent.mkdir(parents=True, exist_ok=True)
            (other / name).write_text(content)
        for name in delete:
            git(other, "rm", "-q", name)
        git(other, "add", "-A")
        git(other, "commit", "-q", "-m", message)
    git(other, "push", "-q", "origin", f"HEAD:refs/heads/{RELEASE_BRANCH}")
    return git(other, "rev-parse", "HEAD")


def released_platform(world: GitWorld, server, instance: dg.DagsterInstance) -> str:
    """Master carries the platform layout and its release config, promoted through promote_release."""
    sha = advance_master(world, "platform layout", PLATFORM_FILES)
    green(server, sha)
    outcome = promote(world, server.url, instance)
    assert outcome.success, outcome.summary.text
    return sha


@dataclass
class Audit:
    result: dg.ExecuteInProcessResult
    checks: dict[str, dg.AssetCheckEvaluation]

    def state(self, name: str) -> str:
        check = self.checks[name]
        if check.passed:
            return "pass"
        return "warn" if check.severity == dg.AssetCheckSeverity.WARN else "fail"

    def evidence(self, name: str, key: str):
        return self.checks[name].metadata[key].value

    def reason(self, name: str) -> str:
        return self.checks[name].description or ""

    @property
    def metadata(self) -> dict:
        (materialization,) = self.result.asset_materializations_for_node("release_drift")
        return {key: value.value for key, value in materialization.metadata.items()}


def run_audit(world: GitWorld, gitlab_url: str, instance: dg.DagsterInstance) -> Audit:
    dist = world.clone.parent / "dist"
    job = build_definitions(settings_for(world, gitlab_url, dist)).resolve_job_def("drift_audit")
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert result.success
    return Audit(result=result, checks={e.check_name: e for e in result.get_asset_check_evaluations()})
