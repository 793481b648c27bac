"""`dagster-daemon run` on a PostgreSQL-backed instance, as production runs it: sensors tick in the daemon, runs wait
in the queue and start in their own processes (the default run launcher, through the code server).

Everything the daemon starts (its code server, run workers, their step processes) stays in the daemon's own
process group, started as a new session, so that one signal to the group stops all of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pc_release_tests.production.postgres import DagsterDatabase

ROOT = Path(__file__).resolve().parents[2]
SINGLE_HOST_YAML = ROOT / "pc_release" / "instance" / "production-single-host.dagster.yaml"
WORKSPACE = ROOT / "workspace.yaml"
_STOP_SECONDS = 30.0


def fresh_database(postgres: DagsterDatabase) -> DagsterDatabase:
    """A database of its own on the session's server: the daemon's sensors read the whole event log, which must
    hold nothing of other tests' promotions."""
    name = f"daemon_{uuid.uuid4().hex[:12]}"
    connection = postgres.connect()
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()
    return DagsterDatabase(postgres.host, postgres.port, postgres.user, postgres.password, name)


def production_home(path: Path) -> Path:
    """A DAGSTER_HOME holding the shipped single-host production instance config."""
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(SINGLE_HOST_YAML, path / "dagster.yaml")
    return path


def base_env() -> dict[str, str]:
    """This process's environment without the policy's, pc-release's or Dagster's variables."""
    prefixes = ("PLATFORM_CONTROL_", "PC_RELEASE_", "DAGSTER_", "CI_")
    env = {name: value for name, value in os.environ.items() if not name.startswith(prefixes)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    if os.environ.get("PC_RELEASE_NODE_MODULES"):
        env["PC_RELEASE_NODE_MODULES"] = os.environ["PC_RELEASE_NODE_MODULES"]
    return env


@dataclass
class Daemon:
    process: subprocess.Popen
    log: Path

    def tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def group_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the whole group (the daemon stops its threads and code server on it), SIGKILL what remains."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=_STOP_SECONDS)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # members outliving the leader are gone once the group is empty
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.1)


@contextlib.contextmanager
def running_daemon(home: Path, env: dict[str, str], log: Path) -> Iterator[Daemon]:
    """`dagster-daemon run` on the instance in `home` with `env`, until the block ends; stopped with everything it
    started. Its output goes to `log` (the token is only ever in the environment, never in its output)."""
    command = [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(WORKSPACE)]
    with _running(command, home, env, log) as daemon:
        yield daemon


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Webserver(Daemon):
    url: str = ""

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/server_info", timeout=2):
                return True
        except (urllib.error.URLError, OSError):
            return False

    def graphql(self, query: str, variables: dict) -> dict:
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": variables}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        if answer.get("errors"):
            raise AssertionError(f"GraphQL errors: {answer['errors']}")
        return answer["data"]


START_SENSOR = """
mutation StartSensor($selector: SensorSelector!) {
  startSensor(sensorSelector: $selector) {
    __typename
    ... on Sensor { name sensorState { status } }
    ... on PythonError { message }
    ... on SensorNotFoundError { message }
    ... on UnauthorizedError { message }
  }
}
"""


def start_sensor(webserver: Webserver, name: str, location: str = "pc_release") -> str:
    """Turn a sensor on the way the UI's toggle does; returns its status as the webserver then reports it."""
    selector = {"repositoryLocationName": location, "repositoryName": "__repository__", "sensorName": name}
    result = webserver.graphql(START_SENSOR, {"selector": selector})["startSensor"]
    if result["__typename"] != "Sensor":
        raise AssertionError(f"startSensor {name}: {result}")
    return result["sensorState"]["status"]


@contextlib.contextmanager
def running_webserver(home: Path, env: dict[str, str], log: Path) -> Iterator[Webserver]:
    """`dagster-webserver` on 127.0.0.1 for the instance in `home`, until the block ends."""
    port = _free_port()
    command = [
        str(Path(sys.executable).parent / "dagster-webserver"),
        *("-w", str(WORKSPACE), "-h", "127.0.0.1", "-p", str(port)),
    ]
    with _running(command, home, env, log) as started:
        yield Webserver(started.process, started.log, url=f"http://127.0.0.1:{port}")


@contextlib.contextmanager
def _running(command: list[str], home: Path, env: dict[str, str], log: Path) -> Iterator[Daemon]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**env, "DAGSTER_HOME": str(home)},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    daemon = Daemon(process, log)
    try:
        yield daemon
    finally:
        _stop(process)
