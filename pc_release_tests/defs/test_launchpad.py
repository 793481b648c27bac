"""What the Launchpad shows for the promotion jobs: the promotion's choices first and only (no resource config to
edit), mode and profile as choices, the defaults the policy's variables set filled in, and a dev-test job that says
it is not a release."""

import dagster as dg
import pytest
import yaml
from dagster._core.snap import JobSnap
from dagster_graphql.schema.run_config import default_values_yaml_from_type_snap

from pc_release.definitions import build_definitions
from pc_release.defs.promotion.config import launchpad_defaults
from pc_release.resources.policy import ReleasePolicyResource
from pc_release.settings import Settings


def launchpad_yaml(job: dg.JobDefinition) -> dict:
    """The run config the Launchpad opens with (GraphQL's rootDefaultYaml), as a dict."""
    snap = JobSnap.from_job_def(job)
    schema = snap.config_schema_snapshot
    root = schema.get_config_snap(snap.mode_def_snaps[0].root_config_key)
    return yaml.safe_load(default_values_yaml_from_type_snap(schema, root))


def enum_values(job: dg.JobDefinition, field: str) -> list[str]:
    config = job.run_config_schema.config_type.fields["ops"].config_type.fields["source_commit"]
    enum = config.config_type.fields["config"].config_type.fields[field].config_type.inner_type
    return [value.config_value for value in enum.enum_values]


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return build_definitions(Settings())


def test_the_launchpad_opens_with_the_policy_defaults_and_no_resource_config(defs):
    promote = launchpad_yaml(defs.resolve_job_def("promote_release"))
    dev_test = launchpad_yaml(defs.resolve_job_def("dev_test_deploy"))

    assert promote == {
        "ops": {
            "source_commit": {
                "config": {
                    "mode": "full",
                    "profile": "standard",
                    "skip_local_preflight": False,
                    "require_local_preflight": False,
                    "allow_divergence": False,
                }
            }
        }
    }
    # The bypass runs in deploy mode; it skips the preflight unless required and always allows the divergence.
    dev_test_defaults = {"mode": "deploy", "profile": "standard", "require_local_preflight": False}
    assert dev_test == {"ops": {"source_commit": {"config": dev_test_defaults}}}


def test_mode_and_profile_are_choices_and_anything_else_is_rejected_before_a_run(defs, instance):
    job = defs.resolve_job_def("promote_release")
    assert enum_values(job, "mode") == ["full", "deploy"]
    assert enum_values(job, "profile") == ["standard", "web-fast"]
    with pytest.raises(dg.DagsterInvalidConfigError, match="not in enum type ReleaseModeChoice got fast"):
        job.execute_in_process(run_config={"ops": {"source_commit": {"config": {"mode": "fast"}}}}, instance=instance)
    assert instance.get_runs() == []


def test_the_defaults_shown_are_the_ones_the_policy_variables_set():
    policy = ReleasePolicyResource(release_mode="deploy", release_profile="web-fast", require_local_preflight=True)
    config = launchpad_defaults(policy, dev_test=False)["ops"]["source_commit"]["config"]
    assert config["mode"] == "deploy" and config["profile"] == "web-fast" and config["require_local_preflight"]
    # A value the policy does not know is not offered as a default: the run refuses it by its rule instead.
    unknown = launchpad_defaults(ReleasePolicyResource(release_mode="fast"), dev_test=False)
    assert "mode" not in unknown["ops"]["source_commit"]["config"]


def test_the_dev_test_job_says_what_it_does_and_does_not_do(defs):
    promote = defs.resolve_job_def("promote_release").description
    dev_test = defs.resolve_job_def("dev_test_deploy").description
    assert dev_test.startswith("NOT a release.")
    for words in ("outside master", "deploy-mode", "does not replace CI on master", "never marks the change released"):
        assert words in dev_test
    assert promote.startswith("Release: ") and "already on master" in promote
