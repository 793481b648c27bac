"""A small local Kubernetes API server for tests: the read paths pc-release's kubernetes client calls.

It answers `GET /version`, `/api/v1/namespaces/{ns}/pods|configmaps|secrets` and
`/apis/apps/v1/namespaces/{ns}/deployments` with real `PodList`/`ConfigMapList`/`SecretList`/`DeploymentList`
JSON built from the YAML manifests it is fed (Secrets' `stringData` becomes base64 `data`, as the API server
stores it), checks the bearer token of the kubeconfig it writes, and records every request path.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

_LISTS = {
    ("api/v1", "pods"): ("Pod", "PodList", "v1"),
    ("api/v1", "configmaps"): ("ConfigMap", "ConfigMapList", "v1"),
    ("api/v1", "secrets"): ("Secret", "SecretList", "v1"),
    ("apis/apps/v1", "deployments"): ("Deployment", "DeploymentList", "apps/v1"),
}
_PATH = re.compile(r"^/(api/v1|apis/apps/v1)/namespaces/([^/]+)/([a-z]+)$")
VERSION = {
    "major": "1",
    "minor": "30",
    "gitVersion": "v1.30.0",
    "gitCommit": "7c48c2bd72b9bf5c44d21d7338cc7bea77d0ad2a",
    "gitTreeState": "clean",
    "buildDate": "2024-05-13T22:02:25Z",
    "goVersion": "go1.22.2",
    "compiler": "gc",
    "platform": "linux/amd64",
}


class KubeApi:
    """Serve objects (by kind and namespace) until closed; use as a context manager."""

    def __init__(self, token: str = "kube-test-token", namespace: str = "default") -> None:
        self.token = token
        self.namespace = namespace
        self.objects: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> KubeApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def apply(self, *manifests: str | dict[str, Any], namespace: str | None = None) -> None:
        """Store the objects of YAML texts or dicts, as `kubectl apply -n namespace` would."""
        for manifest in manifests:
            documents = yaml.safe_load_all(manifest) if isinstance(manifest, str) else [manifest]
            for doc in documents:
                # Objects only: a kustomization.yaml in the same directory has no metadata.name.
                if isinstance(doc, dict) and doc.get("kind") and (doc.get("metadata") or {}).get("name"):
                    self._store(copy.deepcopy(doc), namespace or self.namespace)

    def apply_dir(self, directory: Path, namespace: str | None = None) -> None:
        for path in sorted(directory.glob("*.yaml")):
            self.apply(path.read_text(), namespace=namespace)

    def _store(self, doc: dict[str, Any], namespace: str) -> None:
        meta = doc.setdefault("metadata", {})
        meta.setdefault("namespace", namespace)
        meta.setdefault("uid", f"uid-{doc['kind'].lower()}-{meta['name']}")
        meta.setdefault("resourceVersion", "1")
        meta.setdefault("creationTimestamp", "2024-06-01T00:00:00Z")
        if doc["kind"] == "Secret":
            data = doc.setdefault("data", {})
            for key, value in (doc.pop("stringData", None) or {}).items():
                data[key] = base64.b64encode(str(value).encode()).decode()
        if doc["kind"] == "Deployment":
            replicas = doc.get("spec", {}).get("replicas", 1)
            doc.setdefault("status", {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas})
        with self._lock:
            items = self.objects.setdefault((doc["kind"], meta["namespace"]), [])
            items[:] = [item for item in items if item["metadata"]["name"] != meta["name"]] + [doc]

    def write_kubeconfig(self, path: Path, context: str = "kind-platform-control", token: str | None = None) -> Path:
        """A kubeconfig whose `context` points at this server (with `token`, default the right one)."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kind", "cluster": {"server": self.url}}],
            "users": [{"name": "kind-admin", "user": {"token": token or self.token}}],
            "contexts": [{"name": context, "context": {"cluster": "kind", "user": "kind-admin"}}],
            "current-context": context,
        }
        path.write_text(yaml.safe_dump(config))
        return path

    def _answer(self, path: str, authorization: str | None) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(path)
        if authorization != f"Bearer {self.token}":
            return 401, _status(401, "Unauthorized", "Unauthorized")
        if path.rstrip("/") == "/version":
            return 200, VERSION
        match = _PATH.match(path)
        if not match or (match.group(1), match.group(3)) not in _LISTS:
            return 404, _status(404, "NotFound", f"the server could not find the requested resource ({path})")
        group, namespace, plural = match.groups()
        kind, list_kind, api_version = _LISTS[(group, plural)]
        with self._lock:
            items = copy.deepcopy(self.objects.get((kind, namespace), []))
        for item in items:
            # List items carry neither kind nor apiVersion on the wire.
            item.pop("kind", None)
            item.pop("apiVersion", None)
        return 200, {"kind": list_kind, "apiVersion": api_version, "metadata": {"resourceVersion": "1"}, "items": items}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = api._answer(urlsplit(self.path).path, self.headers.get("Authorization"))
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def pod_of(deployment: dict[str, Any], index: int = 0, *, ready: bool = True, digest: str = "0" * 64) -> dict[str, Any]:
    """A running Pod of a Deployment manifest, as the kubelet reports it (imageID pinned to `digest`).

    Its init containers have run to completion (terminated, not ready, as the kubelet leaves them); its
    conditions say whether it is Ready.
    """
    name = deployment["metadata"]["name"]
    template = deployment["spec"]["template"]
    containers = template["spec"]["containers"]
    init_containers = template["spec"].get("initContainers") or []
    started = "2024-06-01T00:00:00Z"

    def image_id(container: dict[str, Any]) -> str:
        return f"{container['image'].split(':')[0]}@sha256:{digest}"

    status: dict[str, Any] = {
        "phase": "Running",
        "conditions": [
            {"type": kind, "status": "True" if ok else "False", "lastProbeTime": None, "lastTransitionTime": started}
            for kind, ok in (
                ("Initialized", True),
                ("Ready", ready),
                ("ContainersReady", ready),
                ("PodScheduled", True),
            )
        ],
        "containerStatuses": [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": image_id(c),
                "ready": ready,
                "restartCount": 0,
                "started": True,
                "state": {"running": {"startedAt": started}},
                "lastState": {},
            }
            for c in containers
        ],
    }
    if init_containers:
        status["initContainerStatuses"] = [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": f"{c['image'].split(':')[0]}@sha256:{'1' * 64}",
                "ready": False,
                "restartCount": 0,
                "started": False,
                "state": {
                    "terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": started}
                },
                "lastState": {},
            }
            for c in init_containers
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{name}-5d9f8c7b6-{index:05d}",
            "labels": dict(template["metadata"].get("labels") or {}),
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": f"{name}-5d9f8c7b6",
                    "uid": "rs",
                    "controller": True,
                }
            ],
        },
        "spec": copy.deepcopy(template["spec"]),
        "status": status,
    }
