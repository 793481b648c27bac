"""The policy's switches reach definitions through the policy resource, built once from the environment."""

import ast
from pathlib import Path

from pc_release.definitions import build_definitions, build_resources
from pc_release.settings import Settings
from pc_release_tests.audit.steps import advance_master, green, released_platform
from pc_release_tests.promotion_harness import settings_for

PACKAGE = Path(__file__).resolve().parents[2] / "pc_release"
# Entry points: the code location's wiring, the operator CLI and the demo, which each build their own settings.
READS_ENVIRONMENT = {"definitions.py", "cli.py", "sandbox/demo.py"}


def _settings_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Settings"
    ]


def test_only_the_entry_points_read_settings_from_the_environment():
    readers = {
        f"{path.relative_to(PACKAGE).as_posix()}:{line}"
        for path in PACKAGE.rglob("*.py")
        for line in _settings_calls(path)
    }
    assert readers, "the scan found no Settings() call at all: it no longer looks where the code is"
    assert {reader.split(":")[0] for reader in readers} <= READS_ENVIRONMENT, sorted(readers)


def test_the_resource_shows_the_values_the_code_location_was_built_with(monkeypatch):
    monkeypatch.setenv("PLATFORM_CONTROL_RELEASE_PROFILE", "web-fast")
    monkeypatch.setenv("PC_RELEASE_DEV_TEST_MAX_AGE_HOURS", "6")
    monkeypatch.setenv("PC_RELEASE_MASTER_BRANCH", "main")

    # What the code location binds (settled: fully configured, so the Launchpad has no resource YAML to edit).
    policy = build_resources(Settings())["policy"]

    assert policy.release_profile == "web-fast"
    assert policy.dev_test_max_age_hours == 6
    assert policy.default_source_ref == "refs/remotes/origin/main"
    assert policy.release_mode == "full" and not policy.auto_promotion


def test_a_plan_uses_the_defaults_of_its_code_location_not_the_environment_of_the_run(
    world, gitlab_server, instance, monkeypatch
):
    released_platform(world, gitlab_server, instance)
    green(gitlab_server, advance_master(world, "web tweak", {"frontend/app.js": "console.log('tweak')\n"}))
    defs = build_definitions(settings_for(world, gitlab_server.url, world.clone.parent / "dist"))
    # The process that executes the run has another environment, as a run launched in a Kubernetes pod may.
    monkeypatch.setenv("PLATFORM_CONTROL_RELEASE_PROFILE", "web-fast")
    monkeypatch.setenv("PLATFORM_CONTROL_RELEASE_MODE", "deploy")

    result = defs.resolve_job_def("plan_promotion").execute_in_process(instance=instance, raise_on_error=False)

    assert result.success
    plan = result.asset_value("promotion_plan")
    assert plan.pipeline_variables["PLATFORM_CONTROL_RELEASE_PROFILE"] == "standard"
    assert plan.pipeline_variables["PLATFORM_CONTROL_RELEASE_MODE"] == "full"
