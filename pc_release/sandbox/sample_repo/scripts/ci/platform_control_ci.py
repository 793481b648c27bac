"""Shared helpers of the platform-control CI scripts: runtime matrix, digests, the deployed environment."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import NoReturn

import yaml

ROOT = Path(__file__).resolve().parents[2]
MATRIX = ROOT / "scripts" / "ci" / "platform_control_runtime_matrix.sh"
PLATFORM_OVERLAY = ROOT / "deploy" / "overlays" / "platform-control"
IMAGE_REPOSITORY = "registry.example.internal/platform-control"
RELEASE_CONFIG = ROOT / ".pc-release.yaml"


def fail(message: str) -> NoReturn:
    print(f"ERROR: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def release_profile() -> str:
    return os.environ.get("PLATFORM_CONTROL_RELEASE_PROFILE") or "standard"


def runtimes(profile: str | None = None) -> list[str]:
    """The runtime matrix, narrowed to what `profile` (default: the pipeline's) publishes."""
    env = {**os.environ, "PLATFORM_CONTROL_RELEASE_PROFILE": profile or release_profile()}
    result = subprocess.run(["bash", str(MATRIX)], env=env, capture_output=True, text=True, check=True)
    return result.stdout.split()


def publish_filters() -> dict[str, str]:
    """Runtimes intentionally not published (.pc-release.yaml publish_filters): runtime -> reason."""
    if not RELEASE_CONFIG.exists():
        return {}
    return (yaml.safe_load(RELEASE_CONFIG.read_text()) or {}).get("publish_filters") or {}


def digest_variable(runtime: str) -> str:
    return "PLATFORM_CONTROL_RUNTIME_DIGEST_" + runtime.upper().replace("-", "_")


def commit_sha() -> str:
    sha = os.environ.get("CI_COMMIT_SHA", "")
    if len(sha) < 7:
        fail("CI_COMMIT_SHA is not set: publish and deploy jobs must know the exact source commit")
    return sha


def environment_dir() -> Path:
    """The directory standing for the deployed environment (kept between pipelines, like a cluster)."""
    configured = os.environ.get("PC_SANDBOX_ENVIRONMENT_DIR")
    if configured:
        return Path(configured)
    return Path(os.environ.get("CI_PROJECT_DIR") or os.getcwd()).resolve().parent / "environment"


def read_json(path: Path, default: object) -> object:
    return json.loads(path.read_text()) if path.exists() else default


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_dotenv(path: Path, values: dict[str, str]) -> None:
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))


def load_documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def overlay_documents(overlay: Path) -> dict[str, list[dict]]:
    """Every resource file listed in the overlay's kustomization.yaml -> its YAML documents."""
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    return {name: load_documents(overlay / name) for name in kustomization["resources"]}


def deployments(documents: list[dict]) -> list[dict]:
    return [doc for doc in documents if doc.get("kind") == "Deployment"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def start_service(command: list[str], cwd: Path, env: dict[str, str], port: int) -> subprocess.Popen:
    """Start a runtime locally and wait until its /healthz answers 200."""
    process = subprocess.Popen(command, cwd=cwd, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            fail(f"{' '.join(command)} exited with {process.returncode} before serving")
        try:
            if http_get(port, "/healthz")[0] == 200:
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    fail(f"{' '.join(command)} did not answer /healthz on 127.0.0.1:{port} within 15s")
