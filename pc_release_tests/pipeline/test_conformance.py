"""Runtime image conformance on a live cluster, read through the kubernetes client from a local server that
speaks the Kubernetes API (real DeploymentList/PodList JSON): running digests against the fan-in digests."""

import json

import pytest
import yaml

from pc_release.defs.pipeline.cluster import ReleaseClusterResource
from pc_release.release_config import DEFAULT_RELEASE_CONFIG, load_release_config
from pc_release_tests.kube_api import KubeApi, pod_of
from pc_release_tests.pipeline.harness import (
    DIGESTS,
    SensorDriver,
    dist_dir,
    evaluations,
    finish_stage,
    publish,
    release,
    sensor_resources,
)

NAMESPACE = "platform-control"


def deployment(runtime: str, replicas: int = 2, ready: int | None = None, container: str | None = None) -> dict:
    doc = yaml.safe_load(
        f"""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {runtime}
  labels: {{app.kubernetes.io/name: {runtime}}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app.kubernetes.io/name: {runtime}}}
  template:
    metadata:
      labels: {{app.kubernetes.io/name: {runtime}}}
    spec:
      containers:
        - name: {container or runtime}
          image: registry.example.internal/platform-control/{runtime}:pinned
        - name: log-shipper
          image: registry.example.internal/ops/log-shipper:1.2
"""
    )
    if ready is not None:
        doc["status"] = {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready}
    return doc


def run(api: KubeApi, runtime: str, digest: str, *, replicas: int = 2, ready: int | None = None) -> None:
    """A rolled-out runtime: its Deployment and one Running pod per replica on `digest`."""
    doc = deployment(runtime, replicas, ready)
    api.apply(doc, namespace=NAMESPACE)
    for index in range(replicas):
        api.apply(
            pod_of(doc, index, digest=digest.removeprefix("sha256:"), ready=ready is None or index < ready),
            namespace=NAMESPACE,
        )


@pytest.fixture
def cluster(tmp_path):
    with KubeApi(namespace=NAMESPACE) as api:
        config = api.write_kubeconfig(tmp_path / "kubeconfig", context="platform-control-prod")
        yield (
            api,
            ReleaseClusterResource(context="platform-control-prod", kubeconfig=str(config), namespace=NAMESPACE),
        )


def test_matching_digests_with_finished_rollouts_conform(cluster):
    api, resource = cluster
    run(api, "api", DIGESTS["api"])
    run(api, "web", DIGESTS["web"])
    verdict = resource.conformance(dict(DIGESTS), DEFAULT_RELEASE_CONFIG)
    assert verdict.ok, verdict.reason
    assert f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments" in api.requests
    assert f"/api/v1/namespaces/{NAMESPACE}/pods" in api.requests


def test_a_runtime_running_another_digest_names_runtime_expected_and_running(cluster):
    api, resource = cluster
    stale = "sha256:" + "c3" * 32
    run(api, "api", stale)
    run(api, "web", DIGESTS["web"])
    verdict = resource.conformance(dict(DIGESTS), DEFAULT_RELEASE_CONFIG)
    assert not verdict.ok
    assert f"api: expected {DIGESTS['api']}, running {stale}" in verdict.reason
    assert "web:" not in verdict.reason


def test_unfinished_rollout_and_missing_workload_fail(cluster):
    api, resource = cluster
    run(api, "api", DIGESTS["api"], replicas=3, ready=1)
    verdict = resource.conformance(dict(DIGESTS), DEFAULT_RELEASE_CONFIG)
    assert not verdict.ok
    assert "api: rollout of Deployment/api not finished (1/3 replicas ready" in verdict.reason
    assert f"web: no workload found in the cluster (expected {DIGESTS['web']})" in verdict.reason


def test_unreachable_cluster_is_a_failed_check_not_a_crash(tmp_path):
    with KubeApi(namespace=NAMESPACE) as api:
        config = api.write_kubeconfig(tmp_path / "kubeconfig", token="wrong-token")
        resource = ReleaseClusterResource(kubeconfig=str(config), namespace=NAMESPACE)
        verdict = resource.conformance(dict(DIGESTS), DEFAULT_RELEASE_CONFIG)
    assert not verdict.ok and "could not read the release cluster" in verdict.reason and "401" in verdict.reason


def test_sensor_checks_the_live_cluster_when_remote_validation_finishes(platform, instance, cluster):
    world, server = platform
    api, resource = cluster
    stale = "sha256:" + "d4" * 32
    run(api, "api", stale)
    run(api, "web", DIGESTS["web"])
    driver = SensorDriver(instance=instance, resources=sensor_resources(world, server.url, release_cluster=resource))
    pid, _ = release(world, server, instance)
    finish_stage(server, pid, "contracts")
    finish_stage(server, pid, "build-test")
    for runtime, digest in DIGESTS.items():
        publish(server, pid, runtime, digest=digest)
    finish_stage(server, pid, "digest-fan-in")
    finish_stage(server, pid, "deploy")
    driver.tick()
    assert api.requests == []  # the cluster is read only once remote validation has finished

    finish_stage(server, pid, "remote-validation")
    tick = driver.tick()

    check = evaluations(tick)[("remote_validation", "runtime_image_conformance")]
    assert not check.passed
    assert f"api: expected {DIGESTS['api']}, running {stale}" in check.description
    record = json.loads((dist_dir(world) / f"platform-control-release-record-{pid}.json").read_text())
    assert record["pipeline_status"] == "success" and record["status"] == "not released"
    gates = {g["name"]: g for g in record["gates"]}
    assert gates["runtime_image_conformance"]["outcome"] == "failed"
    assert "runtime_image_conformance" in gates["final_validation"]["detail"]


ISTIO = "docker.io/istio/proxyv2@sha256:" + "9e" * 32
API_ONLY = {"api": DIGESTS["api"]}


def with_istio_and_init(doc: dict) -> dict:
    """The Deployment as an istio-injected cluster runs it: an init container and the istio-proxy sidecar."""
    spec = doc["spec"]["template"]["spec"]
    spec["initContainers"] = [{"name": "migrate", "image": "registry.example.internal/platform-control/migrate:1"}]
    spec["containers"].append({"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.22.1"})
    return doc


def apply_pods(api: KubeApi, doc: dict, digest: str, count: int = 2, **changes) -> list[dict]:
    """`count` running, ready pods of `doc` on `digest`; the istio-proxy sidecar (if any) on its own image."""
    pods = []
    for index in range(count):
        pod = pod_of(doc, index, digest=digest.removeprefix("sha256:"))
        for status in pod["status"]["containerStatuses"]:
            if status["name"] == "istio-proxy":
                status["imageID"] = ISTIO
        pod["metadata"] |= changes
        api.apply(pod, namespace=NAMESPACE)
        pods.append(pod)
    return pods


def test_sidecars_and_init_containers_are_not_the_runtimes_image(cluster):
    api, resource = cluster
    doc = with_istio_and_init(deployment("api"))
    api.apply(doc, namespace=NAMESPACE)
    apply_pods(api, doc, DIGESTS["api"])
    verdict = resource.conformance(API_ONLY, DEFAULT_RELEASE_CONFIG)
    assert verdict.ok and not verdict.warning, verdict.reason
    assert verdict.evidence["runtimes"] == [f"api (container api): expected {DIGESTS['api']}, running {DIGESTS['api']}"]


def test_the_runtimes_container_is_the_one_the_release_config_names(cluster):
    api, resource = cluster
    doc = with_istio_and_init(deployment("api", container="server"))
    api.apply(doc, namespace=NAMESPACE)
    apply_pods(api, doc, DIGESTS["api"])

    named = resource.conformance(API_ONLY, load_release_config("runtime_containers: {api: server}"))
    assert named.ok, named.reason

    # Unnamed, the runtime's container is the one called after the runtime; no such container is not a pass,
    # and the sidecar's image is never taken for the runtime's.
    unnamed = resource.conformance(API_ONLY, DEFAULT_RELEASE_CONFIG)
    assert not unnamed.ok
    assert "have no container named 'api'" in unnamed.reason and "runtime_containers" in unnamed.reason
    assert "containers: server, log-shipper, istio-proxy" in unnamed.reason
    assert ISTIO.split("@")[1] not in unnamed.reason


def test_terminating_pods_of_the_previous_rollout_are_not_counted(cluster):
    api, resource = cluster
    stale = "sha256:" + "c3" * 32
    doc = deployment("api")
    api.apply(doc, namespace=NAMESPACE)
    apply_pods(api, doc, DIGESTS["api"])
    old = pod_of(doc, 7, digest=stale.removeprefix("sha256:"), ready=False)
    old["metadata"] |= {"deletionTimestamp": "2024-06-01T00:05:00Z", "deletionGracePeriodSeconds": 30}
    api.apply(old, namespace=NAMESPACE)

    verdict = resource.conformance(API_ONLY, DEFAULT_RELEASE_CONFIG)

    assert verdict.ok, verdict.reason
    assert stale not in verdict.reason


@pytest.mark.parametrize(
    ("selector", "selected"),
    [
        # matchExpressions only: every pod labelled api.
        ({"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": ["api"]}]}, 3),
        # matchLabels AND matchExpressions: the canary pods are not this Deployment's.
        (
            {
                "matchLabels": {"app.kubernetes.io/name": "api"},
                "matchExpressions": [{"key": "track", "operator": "NotIn", "values": ["canary"]}],
            },
            2,
        ),
        (
            {
                "matchLabels": {"app.kubernetes.io/name": "api"},
                "matchExpressions": [{"key": "track", "operator": "DoesNotExist"}],
            },
            2,
        ),
    ],
)
def test_every_label_selector_form_selects_the_workloads_pods(cluster, selector, selected):
    api, resource = cluster
    doc = deployment("api")
    doc["spec"]["selector"] = selector
    api.apply(doc, namespace=NAMESPACE)
    apply_pods(api, doc, DIGESTS["api"])
    canary = pod_of(doc, 9, digest="c4" * 32)
    canary["metadata"]["labels"]["track"] = "canary"
    api.apply(canary, namespace=NAMESPACE)

    verdict = resource.conformance(API_ONLY, DEFAULT_RELEASE_CONFIG)

    if selected == 2:
        assert verdict.ok, verdict.reason
    else:
        # The canary pod is selected too, so its digest is what breaks conformance.
        assert not verdict.ok
        assert f"api: expected {DIGESTS['api']}, running sha256:{'c4' * 32}" in verdict.reason


def test_an_image_id_that_is_not_a_registry_digest_cannot_be_verified(cluster):
    api, resource = cluster
    doc = deployment("api")
    api.apply(doc, namespace=NAMESPACE)
    # `kind load docker-image`: the kubelet reports the local image ID, the config digest, not a registry digest.
    image_id = "sha256:" + "5a" * 32
    for pod in apply_pods(api, doc, DIGESTS["api"]):
        pod["status"]["containerStatuses"][0]["imageID"] = image_id
        api.apply(pod, namespace=NAMESPACE)

    verdict = resource.conformance(API_ONLY, DEFAULT_RELEASE_CONFIG)

    assert verdict.ok and verdict.warning
    assert f"api: cannot verify, the pods report image ID {image_id}, not a registry digest" in verdict.reason
    assert "expected" not in verdict.reason
