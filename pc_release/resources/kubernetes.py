"""KubernetesResource: read-only views of a cluster's workloads, pods, ConfigMaps and Secrets, as records.

The official `kubernetes` client does the talking (kubeconfig, context, auth, TLS); responses are read as
plain JSON and turned into pc_release.models records by the same functions that read manifests, so a live
object and its manifest compare field for field. Secret values are never turned into anything.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import dagster as dg
import urllib3
from pydantic import Field, PrivateAttr

from pc_release.errors import ConfigurationError, PcReleaseError
from pc_release.models import (
    KubeConfigMap,
    KubeContainer,
    KubeContainerStatus,
    KubeDeployment,
    KubePod,
    KubeSecret,
    KubeSelectorRequirement,
)

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


class KubernetesError(PcReleaseError):
    """The cluster answered, but not with what was asked for (forbidden, not found, server error)."""

    rule = "kubernetes"


class ClusterUnreachable(KubernetesError):
    """No answer from the cluster at all: refused, unresolvable, timed out."""

    rule = "kube-unreachable"


def _cause(err: Exception) -> str:
    """The innermost reason of a connection failure, e.g. "[Errno 111] Connection refused"."""
    cause = err.reason if isinstance(err, urllib3.exceptions.MaxRetryError) and err.reason else err
    text = str(cause)
    return text.split("Failed to establish a new connection: ", 1)[-1]


def _names(items: list[dict[str, Any]] | None) -> list[str]:
    return [item["name"] for item in items or [] if isinstance(item, dict) and item.get("name")]


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def container_record(doc: dict[str, Any]) -> KubeContainer:
    env = doc.get("env") or []
    secret_refs, configmap_keys = [], []
    for var in env:
        source = var.get("valueFrom") or {}
        if source.get("secretKeyRef", {}).get("name"):
            secret_refs.append(source["secretKeyRef"]["name"])
        ref = source.get("configMapKeyRef") or {}
        if ref.get("name") and ref.get("key"):
            configmap_keys.append(f"{ref['name']}/{ref['key']}")
    secret_refs += [s["secretRef"]["name"] for s in doc.get("envFrom") or [] if s.get("secretRef", {}).get("name")]
    return KubeContainer(
        name=doc.get("name", ""),
        image=doc.get("image", ""),
        env_names=_names(env),
        secret_refs=_unique(secret_refs),
        configmap_key_refs=_unique(configmap_keys),
    )


def deployment_record(doc: dict[str, Any], namespace: str | None = None) -> KubeDeployment:
    """A Deployment (or StatefulSet/DaemonSet) from its manifest or its API object, which share one shape."""
    meta = doc.get("metadata") or {}
    spec = doc.get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") or {}
    containers = [container_record(c) for c in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]]
    pulls = _names(pod.get("imagePullSecrets"))
    volumes = [v["secret"]["secretName"] for v in pod.get("volumes") or [] if v.get("secret", {}).get("secretName")]
    status = doc.get("status") or {}
    selector = spec.get("selector") or {}
    return KubeDeployment(
        name=meta.get("name", ""),
        namespace=meta.get("namespace") or namespace,
        kind=doc.get("kind") or "Deployment",
        labels=meta.get("labels") or {},
        selector=selector.get("matchLabels") or {},
        selector_expressions=[
            KubeSelectorRequirement(key=e.get("key", ""), operator=e.get("operator", ""), values=e.get("values") or [])
            for e in selector.get("matchExpressions") or []
        ],
        replicas=spec.get("replicas"),
        ready_replicas=status.get("readyReplicas") or 0,
        containers=containers,
        image_pull_secrets=pulls,
        secret_refs=_unique([ref for c in containers for ref in c.secret_refs] + volumes + pulls),
    )


def pod_record(doc: dict[str, Any], namespace: str | None = None) -> KubePod:
    meta = doc.get("metadata") or {}
    status = doc.get("status") or {}
    owners = [o for o in meta.get("ownerReferences") or [] if o.get("controller")] or meta.get("ownerReferences") or []
    # Init containers (and sidecars declared among them) are not the pod's app: their statuses stay out.
    statuses = status.get("containerStatuses") or []
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    return KubePod(
        name=meta.get("name", ""),
        namespace=meta.get("namespace") or namespace,
        phase=status.get("phase") or "",
        labels=meta.get("labels") or {},
        owner=f"{owners[0].get('kind')}/{owners[0].get('name')}" if owners else None,
        ready=conditions.get("Ready") == "True",
        terminating=bool(meta.get("deletionTimestamp")),
        containers=[
            KubeContainerStatus(
                name=s.get("name", ""),
                image=s.get("image", ""),
                image_id=s.get("imageID", ""),
                ready=bool(s.get("ready")),
                restart_count=s.get("restartCount") or 0,
            )
            for s in statuses
        ],
    )


def configmap_record(doc: dict[str, Any], namespace: str | None = None) -> KubeConfigMap:
    meta = doc.get("metadata") or {}
    keys = [*(doc.get("data") or {}), *(doc.get("binaryData") or {})]
    return KubeConfigMap(name=meta.get("name", ""), namespace=meta.get("namespace") or namespace, keys=keys)


def secret_record(doc: dict[str, Any], namespace: str | None = None) -> KubeSecret:
    meta = doc.get("metadata") or {}
    return KubeSecret(
        name=meta.get("name", ""), namespace=meta.get("namespace") or namespace, type=doc.get("type") or "Opaque"
    )


class KubernetesResource(dg.ConfigurableResource):
    """A Kubernetes cluster reached through a kubeconfig; unconfigured (both fields empty) means "no cluster"."""

    context: str | None = Field(None, description="kubeconfig context, e.g. kind-platform-control.")
    kubeconfig: str | None = Field(None, description="kubeconfig file; default $KUBECONFIG or ~/.kube/config.")
    request_timeout_seconds: float = Field(10.0, gt=0)

    # The kubernetes client is imported where it is used: most code-location loads never talk to a cluster.
    _api: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def configured(self) -> bool:
        return bool(self.context or self.kubeconfig)

    @property
    def target(self) -> str:
        return f"context {self.context}" if self.context else f"kubeconfig {self.kubeconfig or '(default)'}"

    def _client(self) -> Any:
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException

        with self._lock:
            if self._api is None:
                try:
                    self._api = config.new_client_from_config(config_file=self.kubeconfig, context=self.context)
                except (ConfigException, OSError) as err:
                    raise ConfigurationError(f"cannot load the kube {self.target}: {err}", rule="kube-config") from err
            return self._api

    def _get(self, what: str, call: Callable[..., Any], *args: Any) -> dict[str, Any]:
        from kubernetes.client.exceptions import ApiException

        api = self._client()
        try:
            response = call(*args, _preload_content=False, _request_timeout=self.request_timeout_seconds)
            return json.loads(response.data)
        except ApiException as err:
            raise KubernetesError(f"{what} on {api.configuration.host}: HTTP {err.status} {err.reason}") from err
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise ClusterUnreachable(
                f"cluster unreachable at {api.configuration.host} ({self.target}): {what}: {_cause(err)}"
            ) from err
        except json.JSONDecodeError as err:
            raise KubernetesError(f"{what} on {api.configuration.host}: answer is not JSON: {err}") from err

    def server_version(self) -> str:
        from kubernetes import client

        data = self._get("read version", client.VersionApi(self._client()).get_code)
        return data.get("gitVersion", "")

    def deployments(self, namespace: str) -> list[KubeDeployment]:
        from kubernetes import client

        apps = client.AppsV1Api(self._client())
        data = self._get(f"list deployments in {namespace}", apps.list_namespaced_deployment, namespace)
        return [deployment_record(item | {"kind": "Deployment"}, namespace) for item in data.get("items") or []]

    def pods(self, namespace: str) -> list[KubePod]:
        from kubernetes import client

        core = client.CoreV1Api(self._client())
        data = self._get(f"list pods in {namespace}", core.list_namespaced_pod, namespace)
        return [pod_record(item, namespace) for item in data.get("items") or []]

    def configmaps(self, namespace: str) -> list[KubeConfigMap]:
        from kubernetes import client

        core = client.CoreV1Api(self._client())
        data = self._get(f"list configmaps in {namespace}", core.list_namespaced_config_map, namespace)
        return [configmap_record(item, namespace) for item in data.get("items") or []]

    def secrets(self, namespace: str) -> list[KubeSecret]:
        from kubernetes import client

        core = client.CoreV1Api(self._client())
        data = self._get(f"list secrets in {namespace}", core.list_namespaced_secret, namespace)
        return [secret_record(item, namespace) for item in data.get("items") or []]
