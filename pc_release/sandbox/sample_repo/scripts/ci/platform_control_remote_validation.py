#!/usr/bin/env python3
"""Remote-validation jobs against the deployed environment (PC_SANDBOX_ENVIRONMENT_DIR):

  public-endpoints           every Ingress route reaches a deployed Service and a rolled-out Deployment
  observability              every serving container is scraped and has a readiness probe
  runtime-image-conformance  every deployed runtime runs exactly the digest the fan-in assembled
  app-runtime-smoke          the API and terminal-gateway runtimes answer their real protocols
  web-smoke                  the web runtime serves the app shell, its assets and the API guard
  disposable-cleanup         a disposable role binding is created, revoked, and gone from the read model
  security-evidence          (report-only) image digests, secret sources and pod security posture
  runtime-evidence           (report-only) what is running where, from which source SHA
The evidence commands write their JSON under evidence/ in the job directory (the job's artifact).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import sys
from pathlib import Path

from platform_control_ci import (
    ROOT,
    deployments,
    digest_variable,
    environment_dir,
    fail,
    free_port,
    http_get,
    load_documents,
    read_json,
    runtimes,
    start_service,
    write_json,
)


def deployed_documents() -> list[dict]:
    manifests = environment_dir() / "manifests"
    if not manifests.is_dir():
        fail(f"nothing deployed: {manifests} does not exist")
    return [doc for path in sorted(manifests.glob("*.yaml")) for doc in load_documents(path)]


def public_endpoints() -> None:
    documents = deployed_documents()
    services = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Service"}
    rolled_out = read_json(environment_dir() / "rollout.json", {})
    for ingress in (d for d in documents if d["kind"] == "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for route in rule["http"]["paths"]:
                backend = route["backend"]["service"]
                endpoint = f"https://{rule['host']}{route['path']}"
                target = f"{backend['name']}:{backend['port']['number']}"
                service = services.get(backend["name"])
                if service is None:
                    fail(f"{endpoint} -> service {backend['name']} is not deployed")
                ports = [p["port"] for p in service["spec"]["ports"]]
                if backend["port"]["number"] not in ports:
                    fail(f"{endpoint} -> {target} is not a port of the service ({ports})")
                deployment = service["spec"]["selector"]["app.kubernetes.io/name"]
                if deployment not in rolled_out:
                    fail(f"{endpoint} -> deployment {deployment} has not rolled out")
                print(f"public-endpoints: {endpoint} -> {target} ok")


def observability() -> None:
    for deployment in deployments(deployed_documents()):
        name, template = deployment["metadata"]["name"], deployment["spec"]["template"]
        for container in template["spec"]["containers"]:
            if not container.get("ports"):
                print(f"observability: {name}/{container['name']} serves nothing, logs only")
                continue
            annotations = template["metadata"].get("annotations", {})
            if annotations.get("prometheus.io/scrape") != "true" or "prometheus.io/port" not in annotations:
                fail(f"{name}: serving pods must carry prometheus.io/scrape and prometheus.io/port")
            if "readinessProbe" not in container:
                fail(f"{name}/{container['name']}: no readinessProbe")
            print(f"observability: {name} scraped on :{annotations['prometheus.io/port']}, probed")


def runtime_image_conformance() -> None:
    images = read_json(environment_dir() / "images.json", {})
    for runtime in runtimes():
        expected = os.environ.get(digest_variable(runtime))
        if not expected:
            fail(f"{digest_variable(runtime)} is not set: this job needs the fan-in's runtime-digests.env")
        manifest = environment_dir() / "manifests" / f"{runtime}.yaml"
        running = {
            c["image"]
            for d in deployments(load_documents(manifest))
            for c in d["spec"]["template"]["spec"]["containers"]
        }
        recorded = images.get(runtime, {}).get("digest")
        if recorded != expected or {image.rpartition("@")[2] for image in running} != {expected}:
            fail(f"{runtime}: deployed {sorted(running)} (recorded {recorded}) but the fan-in digest is {expected}")
        print(f"runtime-image-conformance: {runtime} runs {expected}")


def api_client(port: int, user: str):
    def call(method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        headers = {"X-Platform-User": user, "Content-Type": "application/json"}
        connection.request(method, path, body=json.dumps(body) if body else None, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        connection.close()
        return response.status, json.loads(raw) if raw else None

    return call


def app_runtime_smoke() -> None:
    port = free_port()
    api = start_service([sys.executable, "-m", "app.wsgi"], ROOT / "runtimes" / "api", {"PORT": str(port)}, port)
    try:
        status, bindings = api_client(port, "alice")("GET", "/v1/platform-roles/bindings")
        if status != 200 or not bindings:
            fail(f"api: listing bindings as a platform-admin answered {status}")
        print(f"app-runtime-smoke: api /healthz ok, {len(bindings)} role bindings listed")
    finally:
        api.terminate()
        api.wait()
    ws_port = free_port()
    env = {"TERMINAL_INTERNAL_LISTEN_ADDR": f"127.0.0.1:{ws_port}"}
    gateway = start_service([sys.executable, "listener.py"], ROOT / "runtimes" / "terminal-gateway", env, ws_port)
    try:
        echoed = websocket_echo(ws_port, "/internal/terminal/ws", b"whoami")
        if echoed != b"whoami":
            fail(f"terminal-gateway: WebSocket echo returned {echoed!r}")
        print("app-runtime-smoke: terminal-gateway WebSocket /internal/terminal/ws upgrades and relays frames")
    finally:
        gateway.terminate()
        gateway.wait()


def websocket_echo(port: int, path: str, payload: bytes) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: terminal-gateway\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1024)
        status_line = head.split(b"\r\n", 1)[0].decode()
        if " 101 " not in status_line:
            fail(f"terminal-gateway: upgrade refused: {status_line}")
        mask = os.urandom(4)
        sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        frame = sock.recv(1024)
        return frame[2 : 2 + (frame[1] & 0x7F)]


def web_smoke() -> None:
    port = free_port()
    web = start_service(["node", "server.js"], ROOT / "frontend", {"PORT": str(port)}, port)
    try:
        checks = [
            ("/", 200, b"/src/app.mjs"),
            ("/admin/roles", 200, b"<main>"),
            ("/src/app.mjs", 200, b"decideRoute"),
            ("/src/guard.mjs", 200, b"ADMIN_ROLE"),
            ("/v1/admin/audit-log", 401, b"error"),
        ]
        for path, status, needle in checks:
            got, body = http_get(port, path)
            if got != status or needle not in body:
                fail(f"web: GET {path} answered {got}, expected {status} with {needle.decode()!r}")
            print(f"web-smoke: GET {path} -> {got}")
    finally:
        web.terminate()
        web.wait()


def disposable_cleanup() -> None:
    port = free_port()
    api = start_service([sys.executable, "-m", "app.wsgi"], ROOT / "runtimes" / "api", {"PORT": str(port)}, port)
    call = api_client(port, "alice")
    subject = f"disposable-validation-{os.environ.get('CI_PIPELINE_ID', 'local')}"
    try:
        status, binding = call("POST", "/v1/platform-roles/bindings", {"subject": subject, "role": "platform-viewer"})
        if status != 201:
            fail(f"creating disposable binding answered {status}: {binding}")
        status, _ = call("DELETE", f"/v1/platform-roles/bindings/{binding['id']}")
        if status != 204:
            fail(f"revoking disposable binding answered {status}")
        _, bindings = call("GET", "/v1/platform-roles/bindings")
        if any(b["subject"] == subject for b in bindings):
            fail(f"read model still lists {subject} after revoke: lifecycle/read-model defect")
        _, audit = call("GET", "/v1/admin/audit-log")
        actions = [e["action"] for e in audit if e["subject"] == subject]
        if actions != ["role.revoke", "role.bind"]:
            fail(f"audit log for {subject} is {actions}, expected the revoke and the bind")
        print(f"disposable-cleanup: {subject} created, revoked, gone from the read model, audited")
    finally:
        api.terminate()
        api.wait()


def security_evidence() -> None:
    documents = deployed_documents()
    findings, evidence = [], {"images": read_json(environment_dir() / "images.json", {}), "pods": {}}
    for deployment in deployments(documents):
        spec = deployment["spec"]["template"]["spec"]
        non_root = spec.get("securityContext", {}).get("runAsNonRoot") is True
        evidence["pods"][deployment["metadata"]["name"]] = {"runAsNonRoot": non_root}
        if not non_root:
            findings.append(f"{deployment['metadata']['name']} may run as root")
    evidence["secrets"] = read_json(environment_dir() / "secrets.json", {})
    evidence["findings"] = findings
    write_json(Path("evidence") / "security.json", evidence)
    print(f"post-deploy-security-evidence: {len(evidence['pods'])} deployments, {len(findings)} findings")
    for finding in findings:
        print(f"post-deploy-security-evidence: FINDING {finding}")
    if findings:
        sys.exit(1)


def runtime_evidence() -> None:
    evidence = {
        "release": read_json(environment_dir() / "release.json", {}),
        "images": read_json(environment_dir() / "images.json", {}),
        "rollout": read_json(environment_dir() / "rollout.json", {}),
    }
    write_json(Path("evidence") / "runtime.json", evidence)
    for name, entry in sorted(evidence["rollout"].items()):
        print(f"post-deploy-runtime-evidence: {name} {entry['ready_replicas']}/{entry['replicas']} on {entry['image']}")


CHECKS = {
    "public-endpoints": public_endpoints,
    "observability": observability,
    "runtime-image-conformance": runtime_image_conformance,
    "app-runtime-smoke": app_runtime_smoke,
    "web-smoke": web_smoke,
    "disposable-cleanup": disposable_cleanup,
    "security-evidence": security_evidence,
    "runtime-evidence": runtime_evidence,
}


def main() -> int:
    if len(sys.argv) != 2 or sys.argv[1] not in CHECKS:
        fail(f"usage: platform_control_remote_validation.py {'|'.join(CHECKS)}")
    CHECKS[sys.argv[1]]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
