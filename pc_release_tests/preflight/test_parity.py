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


KIND_KUSTOMIZATION = f"{KIND_OVERLAY}/kustomization.yaml"
PLATFORM_KUSTOMIZATION = f"{PLATFORM_OVERLAY}/kustomization.yaml"
SQL_PATCH = """apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  template:
    spec:
      containers:
        - name: api
          env: [{name: DEBUG_SQL, value: "1"}]
"""


def appended(files: dict[str, str], path: str, text: str, **more: str) -> dict[str, str]:
    return files | {path: files[path] + text} | more


def test_patches_count_as_kustomize_applies_them(overlays, parity_config):
    files = appended(
        overlays,
        KIND_KUSTOMIZATION,
        "patches:\n  - path: debug-sql.yaml\n",
        **{f"{KIND_OVERLAY}/debug-sql.yaml": SQL_PATCH},
    )
    check = kind_parity_check(parity_config, reader(files), None)
    assert (check.status, check.classification) == ("failed", "release_blocker")
    assert check.evidence["overlay_differences"] == [
        "env:DEBUG_SQL (api/api) only in kind [deploy/overlays/kind/api.yaml]"
    ]


FLAGS = "configMapGenerator:\n  - name: feature-flags\n    literals: [{literals}]\n"


def test_generated_configmaps_compare_by_declared_name_and_keys(overlays, parity_config):
    # The same generator with other values: kustomize hashes each name differently, yet it is the same ConfigMap.
    same_keys = appended(overlays, KIND_KUSTOMIZATION, FLAGS.format(literals="NEW_NAV=on"))
    same_keys = appended(same_keys, PLATFORM_KUSTOMIZATION, FLAGS.format(literals="NEW_NAV=off"))
    check = kind_parity_check(parity_config, reader(same_keys), None)
    assert check.status == "passed", check.reason

    other_keys = appended(overlays, KIND_KUSTOMIZATION, FLAGS.format(literals="NEW_NAV=on, BETA_TERMINAL=on"))
    other_keys = appended(other_keys, PLATFORM_KUSTOMIZATION, FLAGS.format(literals="NEW_NAV=on"))
    check = kind_parity_check(parity_config, reader(other_keys), None)
    assert check.classification == "release_blocker"
    assert check.evidence["overlay_differences"] == [
        "configmap-key:feature-flags/BETA_TERMINAL only in kind [deploy/overlays/kind/kustomization.yaml]"
    ]

    only_kind = appended(overlays, KIND_KUSTOMIZATION, FLAGS.format(literals="NEW_NAV=on"))
    check = kind_parity_check(parity_config, reader(only_kind), None)
    assert "configmap:feature-flags only in kind" in check.reason


def test_generated_secrets_and_components_are_rendered(overlays, parity_config):
    component = {
        "deploy/components/debug/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\n"
        "kind: Component\npatches:\n  - path: debug-sql.yaml\n",
        "deploy/components/debug/debug-sql.yaml": SQL_PATCH,
    }
    files = appended(
        overlays,
        KIND_KUSTOMIZATION,
        "components: [../../components/debug]\nsecretGenerator:\n  - name: kind-tls\n    literals: [tls.key=x]\n",
        **component,
    )
    check = kind_parity_check(parity_config, reader(files), None)
    assert check.classification == "release_blocker"
    assert sorted(check.evidence["overlay_differences"]) == [
        "env:DEBUG_SQL (api/api) only in kind [deploy/overlays/kind/api.yaml]",
        "secret:kind-tls only in kind [deploy/overlays/kind/kustomization.yaml]",
    ]


def test_an_overlay_kustomize_refuses_is_a_release_blocker_in_kustomizes_words(overlays, parity_config):
    missing_target = SQL_PATCH.replace("name: api}", "name: api-v2}")
    files = appended(
        overlays, KIND_KUSTOMIZATION, "patches:\n  - path: p.yaml\n", **{f"{KIND_OVERLAY}/p.yaml": missing_target}
    )
    check = kind_parity_check(parity_config, reader(files), None)
    assert (check.status, check.classification) == ("failed", "release_blocker")
    assert "kubectl kustomize refused it" in check.reason and "api-v2" in check.reason
    assert "pc-kustomize-" not in check.reason  # kustomize's words, without pc-release's scratch directory


def test_without_kubectl_only_plain_overlays_are_read_and_the_rest_is_named(overlays, parity_config, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    plain = kind_parity_check(parity_config, reader(overlays), None)
    assert plain.status == "passed", plain.reason

    files = appended(
        overlays,
        KIND_KUSTOMIZATION,
        "patches:\n  - path: debug-sql.yaml\n",
        **{f"{KIND_OVERLAY}/debug-sql.yaml": SQL_PATCH},
    )
    files = appended(files, PLATFORM_KUSTOMIZATION, FLAGS.format(literals="NEW_NAV=on"))
    check = kind_parity_check(parity_config, reader(files), None)
    # kubectl missing here is the local environment, not a defect the overlays show.
    assert (check.status, check.classification) == ("failed", "environment_drift")
    assert "deploy/overlays/kind/kustomization.yaml uses patches" in check.reason
    with pytest.raises(OverlayError) as err:
        load_overlay(reader(files), PLATFORM_OVERLAY)
    assert "deploy/overlays/platform-control/kustomization.yaml uses configMapGenerator" in str(err.value)
    remote = appended(overlays, KIND_KUSTOMIZATION, "  - https://github.com/example/base?ref=v1\n")
    with pytest.raises(OverlayError) as err:
        load_overlay(reader(remote), KIND_OVERLAY)
    assert "uses remote resources https://github.com/example/base?ref=v1" in str(err.value)


def test_live_generated_names_are_compared_without_their_hash(overlays, parity_config, kind_cluster):
    api, kubernetes = kind_cluster
    files = appended(overlays, KIND_KUSTOMIZATION, FLAGS.format(literals="NEW_NAV=on"))
    files = appended(files, PLATFORM_KUSTOMIZATION, FLAGS.format(literals="NEW_NAV=off"))
    # What `kubectl apply -k` created from the kind overlay: the generated name carries its content hash.
    api.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "feature-flags-7t2m9b5k6c"},
            "data": {"NEW_NAV": "on"},
        }
    )
    check = kind_parity_check(parity_config, reader(files), live_cluster(kubernetes))
    assert check.status == "passed", check.reason
