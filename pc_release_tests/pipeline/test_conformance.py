"""Runtime image conformance on a live cluster, read through the kubernetes client from a local server that
speaks the Kubernetes API (real DeploymentList/PodList JSON): running digests against the fan-in digests."""

import json

import pytest
import yaml

from pc_release.defs.pipeline.cluster import ReleaseClusterResource
from pc_release.resources.kubernetes import KubernetesResource
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


def deployment(runtime: str, replicas: int = 2, ready: int | None = None) -> dict:
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
        - name: {runtime}
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
            ReleaseClusterResource(
                cluster=KubernetesResource(context="platform-control-prod", kubeconfig=str(config)), namespace=NAMESPACE
            ),
        )


def test_matching_digests_with_finished_rollouts_conform(cluster):
    api, resource = cluster
    run(api, "api", DIGESTS["api"])
    run(api, "web", DIGESTS["web"])
    verdict = resource.conformance(dict(DIGESTS))
    assert verdict.ok, verdict.reason
    assert f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments" in api.requests
    assert f"/api/v1/namespaces/{NAMESPACE}/pods" in api.requests


def test_a_runtime_running_another_digest_names_runtime_expected_and_running(cluster):
    api, resource = cluster
    stale = "sha256:" + "c3" * 32
    run(api, "api", stale)
    run(api, "web", DIGESTS["web"])
    verdict = resource.conformance(dict(DIGESTS))
    assert not verdict.ok
    assert f"api: expected {DIGESTS['api']}, running {stale}" in verdict.reason
    assert "web:" not in verdict.reason


def test_unfinished_rollout_and_missing_workload_fail(cluster):
    api, resource = cluster
    run(api, "api", DIGESTS["api"], replicas=3, ready=1)
    verdict = resource.conformance(dict(DIGESTS))
    assert not verdict.ok
    assert "api: rollout of Deployment/api not finished (1/3 replicas ready" in verdict.reason
    assert f"web: no workload found in the cluster (expected {DIGESTS['web']})" in verdict.reason


def test_unreachable_cluster_is_a_failed_check_not_a_crash(tmp_path):
    with KubeApi(namespace=NAMESPACE) as api:
        config = api.write_kubeconfig(tmp_path / "kubeconfig", token="wrong-token")
        resource = ReleaseClusterResource(cluster=KubernetesResource(kubeconfig=str(config)), namespace=NAMESPACE)
        verdict = resource.conformance(dict(DIGESTS))
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
