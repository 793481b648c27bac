"""kind parity: the sample overlays, edited variants of them, and a live cluster behind a real Kubernetes API."""

from pathlib import Path

import pytest
import yaml

from pc_release.preflight.parity import OverlayError, compare, load_overlay, overlay_facts
from pc_release.preflight.runner import kind_parity_check, live_cluster
from pc_release.release_config import KindParityConfig, load_release_config
from pc_release.resources.kubernetes import KubernetesResource
from pc_release_tests.kube_api import KubeApi
from pc_release_tests.preflight.conftest import KIND_OVERLAY, PLATFORM_OVERLAY

NAMESPACE = "platform-control"


def files_of(tree: Path) -> dict[str, str]:
    return {str(p.relative_to(tree)): p.read_text() for p in (tree / "deploy").rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def overlays(sample_tree) -> dict[str, str]:
    return files_of(sample_tree)


@pytest.fixture(scope="module")
def parity_config(sample_tree) -> KindParityConfig:
    return load_release_config((sample_tree / ".pc-release.yaml").read_text()).preflight.kind_parity


def reader(files: dict[str, str]):
    return files.get


def edited(files: dict[str, str], path: str, old: str, new: str) -> dict[str, str]:
    assert files[path].count(old) == 1
    return files | {path: files[path].replace(old, new)}


WS_KEY = '  TERMINAL_WS_PATH: "/internal/terminal/ws"\n'
WORKER_ENV_TAIL = '            - name: WORKER_SERVICE_USER\n              value: "platform-worker"\n'
NEW_ENV = WORKER_ENV_TAIL + '            - name: WORKER_SHARD_COUNT\n              value: "4"\n'


def test_sample_overlays_are_clean_apart_from_declared_differences(overlays, parity_config):
    check = kind_parity_check(parity_config, reader(overlays), None)
    assert check.status == "passed", check.reason
    assert check.classification is None
    assert sorted(check.evidence["overlay_allowed_differences"]) == [
        "configmap-key:platform-config/KIND_CLUSTER_NAME only in kind",
        "env:DEBUG_TOOLBAR (web/web) only in kind",
        "secret:kind-registry only in kind",
    ]
    assert check.evidence["overlay_differences"] == []
    assert check.evidence["stale_allow_entries"] == []
    assert "live cluster not compared" in check.reason


def test_configmap_key_and_env_var_missing_from_one_overlay_are_release_blockers(overlays, parity_config):
    files = edited(overlays, f"{PLATFORM_OVERLAY}/configmap.yaml", WS_KEY, "")
    files = edited(files, f"{KIND_OVERLAY}/worker.yaml", WORKER_ENV_TAIL, NEW_ENV)
    files = edited(
        files, f"{PLATFORM_OVERLAY}/web.yaml", "            - name: HOST\n", "            - name: HOSTNAME\n"
    )

    check = kind_parity_check(parity_config, reader(files), None)

    assert (check.status, check.classification) == ("failed", "release_blocker")
    differences = check.evidence["overlay_differences"]
    assert "configmap-key:platform-config/TERMINAL_WS_PATH only in kind [deploy/overlays/kind/configmap.yaml]" in (
        differences
    )
    assert "env:WORKER_SHARD_COUNT (worker/worker) only in kind [deploy/overlays/kind/worker.yaml]" in differences
    assert "env:HOSTNAME (web/web) only in platform [deploy/overlays/platform-control/web.yaml]" in differences
    assert "env:HOST (web/web) only in kind [deploy/overlays/kind/web.yaml]" in differences
    assert len(differences) == 4
    assert "configmap-key:platform-config/TERMINAL_WS_PATH only in kind" in check.reason
    assert check.counts["differences"] == 4


def test_allow_list_forms_and_stale_entries(overlays, parity_config):
    files = edited(overlays, f"{KIND_OVERLAY}/worker.yaml", WORKER_ENV_TAIL, NEW_ENV)
    allow = [e for e in parity_config.allow if e != "env:DEBUG_TOOLBAR"]
    config = parity_config.model_copy(
        update={"allow": [*allow, "env:worker/worker/WORKER_SHARD_COUNT", "env:web/web/DEBUG_TOOLBAR", "secret:gone"]}
    )
    check = kind_parity_check(config, reader(files), None)
    assert check.status == "passed", check.reason
    assert check.evidence["stale_allow_entries"] == ["secret:gone"]
    # Allowed for one container only: the same variable elsewhere is still drift.
    files = edited(
        files, f"{KIND_OVERLAY}/api.yaml", "            - name: PORT\n", "            - name: DEBUG_TOOLBAR\n"
    )
    check = kind_parity_check(config, reader(files), None)
    assert check.classification == "release_blocker"
    assert "env:DEBUG_TOOLBAR (api/api) only in kind" in check.reason


def test_workloads_containers_and_secrets_are_compared(overlays):
    files = edited(overlays, f"{PLATFORM_OVERLAY}/kustomization.yaml", "  - worker.yaml\n", "")
    files = edited(
        files,
        f"{PLATFORM_OVERLAY}/external-secrets.yaml",
        "metadata:\n  name: platform-control-oidc\n",
        "metadata:\n  name: oidc\n",
    )
    result = compare(
        ("kind", overlay_facts(load_overlay(reader(files), KIND_OVERLAY))),
        ("platform", overlay_facts(load_overlay(reader(files), PLATFORM_OVERLAY))),
        [],
    )
    labels = {d.label for d in result.drift}
    assert {"deployment:worker only in kind", "container:worker/worker only in kind"} <= labels
    assert "env:WORKER_RECONCILE_SECONDS (worker/worker) only in kind" in labels
    # The ExternalSecret still targets platform-control-oidc: only the object name changed, not the Secret.
    assert not any("oidc" in label for label in labels)
    assert result.compared["deployment"] == 4


@pytest.mark.parametrize(
    ("path", "old", "new", "problem"),
    [
        (f"{KIND_OVERLAY}/kustomization.yaml", "namespace", "namespace", "no kustomization.yaml"),
        (f"{KIND_OVERLAY}/kustomization.yaml", "  - ingress.yaml\n", "  - ../../../../etc/passwd.yaml\n", "outside"),
        (f"{KIND_OVERLAY}/kustomization.yaml", "  - ingress.yaml\n", "  - missing.yaml\n", "does not exist"),
        (f"{KIND_OVERLAY}/api.yaml", "kind: Deployment", "kind: [Deployment", "invalid YAML"),
    ],
)
def test_unreadable_overlays_block_with_the_reason(overlays, parity_config, path, old, new, problem):
    files = edited(overlays, path, old, new)
    if problem == "no kustomization.yaml":
        del files[path]
    check = kind_parity_check(parity_config, reader(files), None)
    assert (check.status, check.classification) == ("failed", "release_blocker")
    assert problem in check.reason


def test_overlay_bases_are_followed(overlays):
    files = {
        f"{KIND_OVERLAY}/kustomization.yaml": "resources: [../base, extra.yaml]\n",
        "deploy/overlays/base/kustomization.yaml": f"namespace: {NAMESPACE}\nresources: [configmap.yaml]\n",
        "deploy/overlays/base/configmap.yaml": overlays[f"{KIND_OVERLAY}/configmap.yaml"],
        f"{KIND_OVERLAY}/extra.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: extra}\n",
    }
    overlay = load_overlay(reader(files), KIND_OVERLAY)
    assert overlay.namespace == NAMESPACE
    assert [path for path, _ in overlay.documents] == [
        "deploy/overlays/base/configmap.yaml",
        f"{KIND_OVERLAY}/extra.yaml",
    ]
    with pytest.raises(OverlayError, match="cycle"):
        load_overlay(reader({f"{KIND_OVERLAY}/kustomization.yaml": "resources: [.]\n"}), KIND_OVERLAY)


SYSTEM_OBJECTS = """
apiVersion: v1
kind: ConfigMap
metadata: {name: kube-root-ca.crt}
data: {ca.crt: "-----BEGIN CERTIFICATE-----"}
---
apiVersion: v1
kind: Secret
metadata: {name: default-token-x7k2p}
type: kubernetes.io/service-account-token
data: {token: c2VjcmV0}
"""


@pytest.fixture
def kind_cluster(sample_tree, tmp_path):
    """A Kubernetes API serving what `kubectl apply -k deploy/overlays/kind` would have created."""
    with KubeApi(namespace=NAMESPACE) as api:
        api.apply_dir(sample_tree / KIND_OVERLAY)
        api.apply(SYSTEM_OBJECTS)
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", context="kind-platform-control")
        yield api, KubernetesResource(kubeconfig=str(kubeconfig), context="kind-platform-control")


def test_live_cluster_that_mirrors_platform_control_passes(overlays, parity_config, kind_cluster):
    api, kubernetes = kind_cluster
    check = kind_parity_check(parity_config, reader(overlays), live_cluster(kubernetes))
    assert check.status == "passed", check.reason
    assert "the live kind cluster (namespace platform-control) mirror" in check.reason
    assert check.evidence["live_namespace"] == NAMESPACE
    assert check.evidence["live_differences"] == []
    assert {
        "/apis/apps/v1/namespaces/platform-control/deployments",
        "/api/v1/namespaces/platform-control/configmaps",
        "/api/v1/namespaces/platform-control/secrets",
    } <= set(api.requests)


def test_live_cluster_lagging_behind_the_overlays_is_environment_drift(overlays, parity_config, kind_cluster):
    api, kubernetes = kind_cluster
    configmap = yaml.safe_load(overlays[f"{KIND_OVERLAY}/configmap.yaml"])
    del configmap["data"]["TERMINAL_INTERNAL_LISTEN_ADDR"]
    api.apply(configmap)

    check = kind_parity_check(parity_config, reader(overlays), live_cluster(kubernetes))

    assert (check.status, check.classification) == ("failed", "environment_drift")
    assert check.evidence["overlay_differences"] == []
    assert check.evidence["live_differences"] == [
        "configmap-key:platform-config/TERMINAL_INTERNAL_LISTEN_ADDR only in platform "
        "[deploy/overlays/platform-control/configmap.yaml]"
    ]
    assert "re-apply the kind overlay" in check.reason


def test_unreachable_cluster_is_environment_drift(overlays, parity_config, tmp_path):
    with KubeApi() as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    # The server is gone: the port now refuses connections.
    check = kind_parity_check(
        parity_config, reader(overlays), live_cluster(KubernetesResource(kubeconfig=str(kubeconfig)))
    )
    assert (check.status, check.classification) == ("failed", "environment_drift")
    assert "cluster unreachable" in check.reason and "Connection refused" in check.reason
    assert check.evidence["error_rule"] == "kube-unreachable"


def test_no_kube_context_means_no_live_comparison():
    assert live_cluster(KubernetesResource()) is None
