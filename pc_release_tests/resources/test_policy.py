"""The policy's switches reach definitions through the policy resource, built once from the environment."""

import ast
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from pydantic import SecretStr

from pc_release import definitions
from pc_release.definitions import build_definitions
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


TOKEN = "glpat-never-shown-4711"


def _resources_as_the_webserver_loads_them(instance, defs: dg.Definitions) -> dict[str, str]:
    """Each resource's description in the repository snapshot the UI's Deployment -> Resources page reads, with
    `pc_release.definitions:defs` built under the test's environment."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(definitions, "defs", defs)
        origin = InProcessCodeLocationOrigin(
            LoadableTargetOrigin(module_name="pc_release.definitions", attribute="defs")
        )
        with origin.create_location(instance) as location:
            repository = location.get_repository("__repository__")
            return {resource.name: resource.description or "" for resource in repository.get_resources()}


# Dagster's own snapshot of a schedule reads its deprecated environment_vars; pc-release sets none.
@pytest.mark.filterwarnings("ignore:Property `ScheduleDefinition.environment_vars`:DeprecationWarning")
def test_the_resource_shows_the_values_the_code_location_was_built_with(monkeypatch, instance):
    monkeypatch.setenv("PLATFORM_CONTROL_RELEASE_PROFILE", "web-fast")
    monkeypatch.setenv("PC_RELEASE_DEV_TEST_MAX_AGE_HOURS", "6")
    monkeypatch.setenv("PC_RELEASE_MASTER_BRANCH", "main")
    monkeypatch.setenv("PC_RELEASE_GITLAB_URL", "http://gitlab.example.test:8929")
    monkeypatch.setenv("PC_RELEASE_GITLAB_TOKEN", TOKEN)

    shown = _resources_as_the_webserver_loads_them(instance, build_definitions(Settings()))

    policy = shown["policy"]
    assert policy.startswith("policy: default_source_ref=refs/remotes/origin/main, release_mode=full, ")
    for value in ("release_profile=web-fast", "auto_promotion=false", "dev_test_max_age_hours=6.0"):
        assert value in policy, policy
    # The resource's own description follows its values.
    assert "The defaults and switches of the release policy" in policy
    gitlab = shown["gitlab"]
    assert "url=http://gitlab.example.test:8929" in gitlab and "master_branch=main" in gitlab, gitlab
    assert "token=from $PC_RELEASE_GITLAB_TOKEN" in gitlab, gitlab
    assert all(TOKEN not in description for description in shown.values())


def test_a_credential_given_as_a_value_is_described_as_set_never_shown(monkeypatch):
    monkeypatch.delenv("PC_RELEASE_POSTGRES_URL", raising=False)
    url = "postgresql://release:hunter2-secret@127.0.0.1:5432/release"
    settings = Settings().model_copy(update={"postgres_url": SecretStr(url)})

    readiness = build_definitions(settings).resources["readiness"]

    assert readiness.description.startswith("readiness: postgres_url=set, not shown, "), readiness.description
    assert "hunter2" not in readiness.description


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
