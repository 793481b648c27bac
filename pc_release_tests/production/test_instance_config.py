"""The production Dagster instance configs, and a promotion on the PostgreSQL-backed one."""

from importlib.metadata import version
from pathlib import Path

import dagster as dg
import yaml

# Dagster's own schema check of an instance file: it neither connects nor imports the run launcher's module
# (dagster-k8s is not installed), so the Kubernetes config is checked here too.
from dagster._core.instance.config import dagster_instance_config

from pc_release.cli import main
from pc_release.definitions import defs
from pc_release.defs.promotion.jobs import PROMOTION_TAG
from pc_release_tests.conftest import TOKEN
from pc_release_tests.production.conftest import INSTANCE_DIR, SINGLE_HOST_YAML
from pc_release_tests.production.leaks import find_leaks
from pc_release_tests.production.observe import green_master
from pc_release_tests.promotion_harness import PROJECT, release_pipelines

K8S_YAML = INSTANCE_DIR / "production.dagster.yaml"
EMBEDDED_YAML = Path(__file__).resolve().parents[2] / "dagster.yaml"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_scale_out_config_is_the_single_host_one_plus_the_kubernetes_launcher():
    scale_out, single_host = load(K8S_YAML), load(SINGLE_HOST_YAML)
    launcher = scale_out.pop("run_launcher")
    assert scale_out == single_host
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    assert launcher["config"]["env_secrets"] == ["pc-release-gitlab-token"]
    # dagster-k8s is not installed: the file names the release that matches the installed Dagster libraries.
    assert f"pip install dagster-k8s=={version('dagster-postgres')}" in K8S_YAML.read_text()


def test_both_configs_are_valid_instance_configs_with_credentials_only_from_the_environment(postgres, monkeypatch):
    for name, value in postgres.env.items():
        monkeypatch.setenv(name, value)
    for path in (SINGLE_HOST_YAML, K8S_YAML):
        config, _ = dagster_instance_config(str(path.parent), path.name)
        assert set(config["storage"]) == {"postgres"}
        fields = load(path)["storage"]["postgres"]["postgres_db"]
        assert all(set(value) == {"env"} and value["env"].startswith("DAGSTER_PG_") for value in fields.values())


def test_the_queue_admits_one_promotion_at_a_time_as_the_embedded_default_does(pg_instance):
    assert load(SINGLE_HOST_YAML)["run_coordinator"] == load(EMBEDDED_YAML)["run_coordinator"]
    queue = pg_instance.run_coordinator.get_run_queue_config()
    limits = [(limit["key"], limit["limit"]) for limit in queue.tag_concurrency_limits]
    assert limits == [(PROMOTION_TAG, 1)]
    assert pg_instance.run_coordinator.dequeue_interval_seconds == 1
    for job in ("promote_release", "dev_test_deploy"):
        assert PROMOTION_TAG in defs.resolve_job_def(job).tags


def test_promotion_on_the_postgres_backed_instance(
    world, gitlab_server, postgres, production_home, pg_instance, monkeypatch, capsys
):
    """An operator switches by pointing DAGSTER_HOME at the production config; the CLI flow is unchanged."""
    sha = world.commit("change to promote")
    world.push("master")
    green_master(gitlab_server, [sha])
    for name, value in {
        "DAGSTER_HOME": str(production_home),
        "PC_RELEASE_REPO_PATH": str(world.clone),
        "PC_RELEASE_DIST_DIR": str(world.clone.parent / "dist"),
        "PC_RELEASE_GITLAB_URL": gitlab_server.url,
        "PC_RELEASE_GITLAB_PROJECT": PROJECT,
    }.items():
        monkeypatch.setenv(name, value)

    assert main(["promote", sha]) == 0, capsys.readouterr()

    assert world.release_sha() == sha
    (pipeline,) = release_pipelines(gitlab_server)
    # What the webserver on another host reads: the run and its materializations, straight from PostgreSQL.
    with postgres.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT run_id, status FROM runs WHERE pipeline_name = 'promote_release'")
        runs = dict(cursor.fetchall())
    with dg.DagsterInstance.from_config(str(production_home)) as instance:
        promoted = [run for run in instance.get_runs() if run.run_id in runs and run.tags.get(PROMOTION_TAG)]
        event = instance.get_latest_materialization_event(dg.AssetKey("release_pipeline"))
    assert any(runs[run.run_id] == "SUCCESS" for run in promoted)
    assert event.run_id in runs
    assert event.asset_materialization.metadata["pipeline_id"].value == pipeline["id"]
    assert event.asset_materialization.metadata["sha"].value == sha
    assert find_leaks([TOKEN], instances=[pg_instance], dirs=[production_home, world.clone.parent]) == []
