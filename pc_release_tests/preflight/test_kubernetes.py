"""KubernetesResource over the official client, against a local Kubernetes API speaking the real list shapes."""

import pytest
import yaml

from pc_release.errors import ConfigurationError
from pc_release.resources.kubernetes import ClusterUnreachable, KubernetesError, KubernetesResource
from pc_release_tests.kube_api import KubeApi, pod_of
from pc_release_tests.preflight.conftest import KIND_OVERLAY

NAMESPACE = "platform-control"


@pytest.fixture
def cluster(sample_tree, tmp_path):
    with KubeApi(namespace=NAMESPACE) as api:
        api.apply_dir(sample_tree / KIND_OVERLAY)
        web = next(
            doc
            for doc in yaml.safe_load_all((sample_tree / KIND_OVERLAY / "web.yaml").read_text())
            if doc["kind"] == "Deployment"
        )
        api.apply(pod_of(web, 0, digest="a" * 64), pod_of(web, 1, ready=False, digest="b" * 64))
        yield api, api.write_kubeconfig(tmp_path / "kubeconfig", context="kind-platform-control")


def test_deployments_are_records_with_containers_images_and_env_names(cluster):
    _, kubeconfig = cluster
    kube = KubernetesResource(kubeconfig=str(kubeconfig), context="kind-platform-control")
    deployments = {d.name: d for d in kube.deployments(NAMESPACE)}
    assert sorted(deployments) == ["api", "terminal-gateway", "web", "worker"]
    web = deployments["web"]
    assert (web.namespace, web.replicas, web.ready_replicas) == (NAMESPACE, 2, 2)
    assert web.selector == {"app.kubernetes.io/name": "web"}
    [container] = web.containers
    assert container.image == "registry.example.internal/platform-control/web:unpinned"
    assert container.env_names == [
        "PORT",
        "HOST",
        "LOG_LEVEL",
        "PLATFORM_API_URL",
        "OIDC_CLIENT_SECRET",
        "DEBUG_TOOLBAR",
    ]
    assert container.configmap_key_refs == ["platform-config/LOG_LEVEL", "platform-config/PLATFORM_API_URL"]
    assert web.secret_refs == ["platform-control-oidc", "kind-registry"]
    assert kube.server_version() == "v1.30.0"


def test_pods_carry_image_ids_and_readiness(cluster):
    _, kubeconfig = cluster
    pods = KubernetesResource(kubeconfig=str(kubeconfig)).pods(NAMESPACE)
    assert [(p.name, p.owner, p.ready) for p in pods] == [
        ("web-5d9f8c7b6-00000", "ReplicaSet/web-5d9f8c7b6", True),
        ("web-5d9f8c7b6-00001", "ReplicaSet/web-5d9f8c7b6", False),
    ]
    status = pods[0].containers[0]
    assert status.image_id == "registry.example.internal/platform-control/web@sha256:" + "a" * 64
    assert pods[0].phase == "Running" and pods[0].labels["app.kubernetes.io/name"] == "web"


def test_configmaps_give_keys_and_secrets_give_names_never_values(cluster):
    _, kubeconfig = cluster
    kube = KubernetesResource(kubeconfig=str(kubeconfig))
    [configmap] = kube.configmaps(NAMESPACE)
    assert configmap.name == "platform-config" and "TERMINAL_WS_PATH" in configmap.keys
    secrets = kube.secrets(NAMESPACE)
    assert [(s.name, s.type) for s in secrets] == [
        ("platform-control-db", "Opaque"),
        ("platform-control-oidc", "Opaque"),
        ("kind-registry", "kubernetes.io/dockerconfigjson"),
    ]
    dumped = str([s.model_dump() for s in secrets])
    assert "kind-development-only" not in dumped and "a2luZC1kZXZlbG9wbWVudC1vbmx5" not in dumped
    assert "url" not in dumped


def test_the_kubeconfig_token_is_what_authenticates(cluster, tmp_path):
    api, _ = cluster
    wrong = api.write_kubeconfig(tmp_path / "wrong", token="not-the-token")
    with pytest.raises(KubernetesError) as err:
        KubernetesResource(kubeconfig=str(wrong)).deployments(NAMESPACE)
    assert err.value.rule == "kubernetes" and "HTTP 401" in str(err.value)
    assert "not-the-token" not in str(err.value)


def test_unknown_context_is_a_configuration_error(cluster):
    _, kubeconfig = cluster
    with pytest.raises(ConfigurationError) as err:
        KubernetesResource(kubeconfig=str(kubeconfig), context="kind-elsewhere").pods(NAMESPACE)
    assert err.value.rule == "kube-config" and "kind-elsewhere" in str(err.value)


def test_refused_connection_is_cluster_unreachable(tmp_path):
    with KubeApi() as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    with pytest.raises(ClusterUnreachable) as err:
        KubernetesResource(kubeconfig=str(kubeconfig)).secrets(NAMESPACE)
    assert err.value.rule == "kube-unreachable"
    assert "Connection refused" in str(err.value)


def test_configured_only_with_a_context_or_kubeconfig():
    assert not KubernetesResource().configured
    assert KubernetesResource(context="kind-platform-control").configured
