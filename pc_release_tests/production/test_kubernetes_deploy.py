"""The Kubernetes deployment: Helm values for the official Dagster chart, the code location image, its Secrets."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path

import dagster_k8s
import kubernetes
import pytest
import yaml
from dagster._config import validate_config
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_k8s.job import DAGSTER_PG_PASSWORD_SECRET_KEY
from dagster_k8s.models import k8s_model_from_dict, k8s_snake_case_dict
from pydantic import AliasChoices

from pc_release.defs.promotion.jobs import PROMOTION_TAG
from pc_release.resources.gitlab import TOKEN_ENV_VAR
from pc_release.settings import Settings
from pc_release_tests.production.conftest import INSTANCE_DIR

KUBE_DIR = INSTANCE_DIR / "kubernetes"
VALUES = KUBE_DIR / "values.yaml"
REPO_ROOT = INSTANCE_DIR.parents[1]
# The README's `helm upgrade --install pc-release ... -n pc-release`, and what the chart names for that release
# (templates/helpers/_helpers.tpl: dagster.fullname).
RELEASE_NAMESPACE = "pc-release"
CHART_INSTANCE_CONFIG_MAP = "pc-release-dagster-instance"
# The chart's keys pc-release's values.yaml sets, by section: our own list of what pc-release relies on, written
# from the chart's documentation (its schema is not shipped here). Helm ignores a key it does not know, so a misspelt
# one would silently leave the chart's default in place; here it fails. The renderers below read these keys.
CHART_KEYS = {
    (): {
        "global",
        "postgresql",
        "generatePostgresqlPasswordSecret",
        "serviceAccount",
        "dagster-user-deployments",
        "runLauncher",
        "dagsterDaemon",
        "telemetry",
    },
    ("global",): {"postgresqlSecretName", "dagsterHome", "serviceAccountName"},
    ("postgresql",): {"enabled", "postgresqlHost", "postgresqlUsername", "postgresqlDatabase", "service"},
    ("serviceAccount",): {"create", "name"},
    ("dagsterDaemon",): {"runCoordinator", "runMonitoring"},
    ("runLauncher", "config", "k8sRunLauncher"): {
        "jobNamespace",
        "imagePullPolicy",
        "loadInclusterConfig",
        "envConfigMaps",
        "envSecrets",
        "volumes",
        "volumeMounts",
        "runK8sConfig",
    },
}


def load(path: Path):
    return yaml.safe_load(path.read_text())


def load_all(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def pc_release_deployment(values: dict) -> dict:
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    return deployment


def k8s_launcher_values(values: dict) -> dict:
    return values["runLauncher"]["config"]["k8sRunLauncher"]


def rendered_run_launcher(values: dict) -> dict:
    """The run_launcher config the chart writes into the instance (templates/helpers/instance/_run-launcher.tpl),
    from values.yaml alone: it sets every key read here, so nothing rests on the chart's defaults."""
    launcher, chart_globals = k8s_launcher_values(values), values["global"]
    config = {
        "load_incluster_config": launcher["loadInclusterConfig"],
        # `jobNamespace | default .Release.Namespace`
        "job_namespace": launcher["jobNamespace"] or RELEASE_NAMESPACE,
        "image_pull_policy": launcher["imagePullPolicy"],
        # templates/helpers/_helpers.tpl, dagster.serviceAccountName: the global name first, then the chart's own.
        "service_account_name": chart_globals["serviceAccountName"] or values["serviceAccount"]["name"],
        "dagster_home": chart_globals["dagsterHome"],
        "instance_config_map": CHART_INSTANCE_CONFIG_MAP,
        "postgres_password_secret": chart_globals["postgresqlSecretName"],
        # The template writes each of these only when set, the Secret and ConfigMap lists as names alone.
        "env_config_maps": [ref["name"] for ref in launcher["envConfigMaps"]],
        "env_secrets": [ref["name"] for ref in launcher["envSecrets"]],
        "volume_mounts": launcher["volumeMounts"],
        "volumes": launcher["volumes"],
        "run_k8s_config": {"container_config": launcher["runK8sConfig"]["containerConfig"]},
    }
    return {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": config}


def rendered_run_coordinator(values: dict) -> dict:
    """The run_coordinator the chart writes (templates/helpers/instance/_run-coordinator.tpl), from values.yaml
    alone."""
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["enabled"] and coordinator["type"] == "QueuedRunCoordinator", coordinator
    queued = coordinator["config"]["queuedRunCoordinator"]
    config = {
        "max_concurrent_runs": queued["maxConcurrentRuns"],
        "tag_concurrency_limits": queued["tagConcurrencyLimits"],
        "dequeue_interval_seconds": queued["dequeueIntervalSeconds"],
    }
    return {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator", "config": config}


def chart_key_errors(values: dict) -> list[str]:
    """Each key of CHART_KEYS' sections that values.yaml misses, and each key it sets that is not listed there."""
    errors = []
    for section, keys in CHART_KEYS.items():
        node = values
        for depth, part in enumerate(section, 1):
            if part not in node:
                errors.append(f"{'.'.join(section[:depth])}: missing")
                break
            node = node[part]
        else:
            errors += [f"{'.'.join((*section, key))}: missing" for key in sorted(keys - set(node))]
            unknown = sorted(set(node) - keys)
            errors += [f"{'.'.join((*section, key))}: not a chart key pc-release uses" for key in unknown]
    return errors


def launcher_errors(config: dict) -> list[str]:
    # Structure only: validate_config does not resolve `env:` sources, which exist only in the cluster.
    result = validate_config(dagster_k8s.K8sRunLauncher.config_type(), config)
    return [error.message for error in result.errors or []]


def production_yaml() -> dict:
    return load(INSTANCE_DIR / "production.dagster.yaml")


def settings_variables() -> set[str]:
    names = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        names.update(alias.choices if isinstance(alias, AliasChoices) else [alias])
    return names


def test_the_values_set_only_the_chart_keys_pc_release_relies_on():
    assert chart_key_errors(load(VALUES)) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda v: v.update(runLauncer=v.pop("runLauncher")), "runLauncer: not a chart key pc-release uses"),
        (lambda v: v["global"].pop("dagsterHome"), "global.dagsterHome: missing"),
        (
            lambda v: k8s_launcher_values(v).update(jobNameSpace="pc-release"),
            "runLauncher.config.k8sRunLauncher.jobNameSpace: not a chart key pc-release uses",
        ),
        (
            lambda v: v["dagsterDaemon"].update(runCoordinatorr={}),
            "dagsterDaemon.runCoordinatorr: not a chart key pc-release uses",
        ),
    ],
    ids=["misspelt-top-level-key", "missing-global-key", "misspelt-launcher-key", "misspelt-daemon-key"],
)
def test_a_misspelt_or_missing_chart_key_fails(mutate, expected):
    values = load(VALUES)
    mutate(values)
    assert expected in chart_key_errors(values)


def test_the_user_deployment_serves_the_pc_release_code_location_from_the_image():
    deployment = pc_release_deployment(load(VALUES))
    workspace = load(REPO_ROOT / "workspace.yaml")["load_from"][0]["python_module"]
    args = deployment["codeServerArgs"]
    served = dict(zip(args[::2], args[1::2], strict=True))
    assert served == {"--module-name": workspace["module_name"], "--location-name": workspace["location_name"]}
    assert served["--module-name"] == "pc_release.definitions"
    assert deployment["port"] == 3030

    dockerfile = (KUBE_DIR / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "\nFROM python:3.11-slim\n" in dockerfile
    assert re.search(r"apt-get install [^\n]*\bgit\b", dockerfile)
    # The package itself (its pinned Dagster family) plus dagster-k8s of the same release as the other libraries.
    assert f'pip install --no-cache-dir . "dagster-k8s=={version("dagster-postgres")}"' in dockerfile
    assert version("dagster-k8s") == version("dagster-postgres")
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile, re.M).group(1))
    assert cmd[:3] == ["dagster", "code-server", "start"]
    assert cmd[-len(args) :] == args and "3030" in cmd


def test_the_queue_admits_one_promotion_at_a_time_as_the_instance_files_do():
    rendered = rendered_run_coordinator(load(VALUES))
    assert rendered == production_yaml()["run_coordinator"]
    limits = [(limit["key"], limit["limit"]) for limit in rendered["config"]["tag_concurrency_limits"]]
    assert limits == [(PROMOTION_TAG, 1)]
    assert validate_config(QueuedRunCoordinator.config_type(), rendered["config"]).success
    broken = {**rendered["config"], "tag_concurrency_limits": [{"key": PROMOTION_TAG, "limit": "one"}]}
    assert not validate_config(QueuedRunCoordinator.config_type(), broken).success
    daemon = load(VALUES)["dagsterDaemon"]
    monitoring = production_yaml()["run_monitoring"]
    assert daemon["runMonitoring"] == {
        "enabled": monitoring["enabled"],
        "startTimeoutSeconds": monitoring["start_timeout_seconds"],
        "pollIntervalSeconds": monitoring["poll_interval_seconds"],
    }


def test_the_run_launcher_is_valid_for_dagster_k8s_and_the_one_production_yaml_describes():
    rendered = rendered_run_launcher(load(VALUES))
    production = production_yaml()["run_launcher"]
    assert launcher_errors(rendered["config"]) == []
    assert launcher_errors(production["config"]) == []
    assert (rendered["module"], rendered["class"]) == (production["module"], production["class"])
    # The chart takes the run image from the code location (DAGSTER_CURRENT_IMAGE) instead of job_image, and gives
    # the run pod its work volume; everything else is production.dagster.yaml's launcher.
    expected = {key: value for key, value in production["config"].items() if key != "job_image"}
    same = {key: value for key, value in rendered["config"].items() if key not in ("volumes", "volume_mounts")}
    assert same == expected


def test_dagster_k8s_rejects_a_broken_launcher_config():
    config = rendered_run_launcher(load(VALUES))["config"]
    assert any("job_namespaces" in error for error in launcher_errors({**config, "job_namespaces": "pc-release"}))
    assert launcher_errors({**config, "env_secrets": "pc-release-gitlab-token"}) != []


def pod_spec(volumes: list[dict], volume_mounts: list[dict], resources: dict) -> kubernetes.client.V1PodSpec:
    """The Kubernetes client's model of the pod, built the way dagster-k8s builds run pods: unknown keys fail."""
    container = {"name": "dagster", "volumeMounts": volume_mounts, "resources": resources}
    spec = {"containers": [container], "volumes": volumes}
    return k8s_model_from_dict(kubernetes.client.V1PodSpec, k8s_snake_case_dict(kubernetes.client.V1PodSpec, spec))


def test_the_pods_kubernetes_objects_are_valid_and_the_clone_lives_on_the_pods_volume():
    values = load(VALUES)
    deployment, launcher = pc_release_deployment(values), k8s_launcher_values(values)
    env = {item["name"]: item["value"] for item in deployment["env"]}
    for volumes, mounts, resources in (
        (deployment["volumes"], deployment["volumeMounts"], deployment["resources"]),
        (launcher["volumes"], launcher["volumeMounts"], launcher["runK8sConfig"]["containerConfig"]["resources"]),
    ):
        spec = pod_spec(volumes, mounts, resources)
        (volume,) = spec.volumes
        assert volume.empty_dir is not None
        (mount,) = spec.containers[0].volume_mounts
        assert "PC_RELEASE_REPO_PATH" not in env  # the run provisions its clone: no path to a clone nobody made
        for path in (env["PC_RELEASE_CLONE_CACHE"], env["PC_RELEASE_DIST_DIR"]):
            assert Path(path).is_relative_to(mount.mount_path)
    # Run pods get the code location's volume too (includeConfigInLaunchedRuns); Dagster merges identical ones.
    assert (deployment["volumes"], deployment["volumeMounts"]) == (launcher["volumes"], launcher["volumeMounts"])
    with pytest.raises(Exception, match="emptydir"):
        pod_spec([{"name": "pc-release-work", "emptydir": {}}], deployment["volumeMounts"], {})


def test_the_token_and_the_database_password_come_from_secrets_only():
    values = load(VALUES)
    deployment, launcher = pc_release_deployment(values), k8s_launcher_values(values)
    secrets = {doc["metadata"]["name"]: doc for doc in load_all(KUBE_DIR / "secrets.example.yaml")}
    assert {doc["kind"] for doc in secrets.values()} == {"Secret"}

    token = secrets["pc-release-gitlab-token"]["stringData"]
    assert list(token) == [TOKEN_ENV_VAR]
    assert deployment["envSecrets"] == launcher["envSecrets"] == [{"name": "pc-release-gitlab-token"}]
    database = secrets[values["global"]["postgresqlSecretName"]]["stringData"]
    assert list(database) == [DAGSTER_PG_PASSWORD_SECRET_KEY]
    assert values["generatePostgresqlPasswordSecret"] is False
    assert "postgresqlPassword" not in values["postgresql"]
    # The example holds placeholders only, and nothing inline anywhere else names a credential.
    assert all(re.fullmatch(r"<[^>]+>", value) for value in [*token.values(), *database.values()])
    inline = [item["name"] for item in deployment["env"]] + list(load(KUBE_DIR / "settings.yaml")["data"])
    assert TOKEN_ENV_VAR not in inline and not [name for name in inline if "PASSWORD" in name or "POSTGRES" in name]


def test_every_variable_the_deployment_sets_is_one_pc_release_reads():
    values = load(VALUES)
    settings_map = load(KUBE_DIR / "settings.yaml")
    assert settings_map["kind"] == "ConfigMap"
    assert [{"name": settings_map["metadata"]["name"]}] == pc_release_deployment(values)["envConfigMaps"]
    assert k8s_launcher_values(values)["envConfigMaps"] == pc_release_deployment(values)["envConfigMaps"]
    secrets = load_all(KUBE_DIR / "secrets.example.yaml")
    token_secret = next(doc for doc in secrets if doc["metadata"]["name"] == "pc-release-gitlab-token")
    passed = {
        *(item["name"] for item in pc_release_deployment(values)["env"]),
        *settings_map["data"],
        *token_secret["stringData"],
    }
    assert passed - (settings_variables() | {TOKEN_ENV_VAR}) == set()
