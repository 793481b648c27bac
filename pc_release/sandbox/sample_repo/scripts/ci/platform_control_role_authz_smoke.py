#!/usr/bin/env python3
"""Local preflight: role authz smoke. Starts the web server (frontend/server.js), exercises platform-role
bind/list/revoke authz (admin may, viewer and operator may not, strangers are unauthenticated) and the
admin audit-log read path over HTTP, and writes a JUnit XML report.

Usage: platform_control_role_authz_smoke.py [REPORT.xml]   (default dist/preflight/role-authz-smoke.xml)
Exit status: 0 all cases passed, 1 a case failed, 2 the server could not be started.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REPORT = "dist/preflight/role-authz-smoke.xml"


class Api:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def call(self, user: str | None, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        headers = {"Content-Type": "application/json"} | ({"X-Platform-User": user} if user else {})
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                raw, status = response.read(), response.status
        except urllib.error.HTTPError as err:
            raw, status = err.read(), err.code
        return status, json.loads(raw) if raw else None


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def cases(api: Api) -> dict[str, Callable[[], None]]:
    bindings = "/v1/platform-roles/bindings"

    def admin_binds_lists_and_revokes() -> None:
        status, binding = api.call("alice", "POST", bindings, {"subject": "smoke-dana", "role": "platform-operator"})
        expect(status == 201, f"bind as admin answered {status}: {binding}")
        status, listed = api.call("alice", "GET", bindings)
        expect(status == 200 and binding in listed, f"list as admin answered {status} without the new binding")
        status, _ = api.call("alice", "DELETE", f"{bindings}/{binding['id']}")
        expect(status == 204, f"revoke as admin answered {status}")
        _, listed = api.call("alice", "GET", bindings)
        expect(all(b["id"] != binding["id"] for b in listed), "revoked binding is still listed")

    def non_admins_may_not_bind_list_or_revoke() -> None:
        for user in ("victor", "oscar"):
            for method, path, body in (
                ("GET", bindings, None),
                ("POST", bindings, {"subject": user, "role": "platform-admin"}),
                ("DELETE", f"{bindings}/rb-1", None),
            ):
                status, _ = api.call(user, method, path, body)
                expect(status == 403, f"{method} {path} as {user} answered {status}, expected 403")

    def viewer_cannot_escalate_itself() -> None:
        api.call("victor", "POST", bindings, {"subject": "victor", "role": "platform-admin"})
        _, listed = api.call("alice", "GET", bindings)
        expect(
            not any(b["subject"] == "victor" and b["role"] == "platform-admin" for b in listed), "victor became admin"
        )

    def strangers_are_unauthenticated() -> None:
        for user in (None, "mallory"):
            status, _ = api.call(user, "GET", bindings)
            expect(status == 401, f"list as {user or 'anonymous'} answered {status}, expected 401")

    def admin_reads_audit_log_of_role_changes() -> None:
        _, binding = api.call("alice", "POST", bindings, {"subject": "smoke-audit", "role": "platform-viewer"})
        api.call("alice", "DELETE", f"{bindings}/{binding['id']}")
        status, events = api.call("alice", "GET", "/v1/admin/audit-log")
        expect(status == 200, f"audit log as admin answered {status}")
        mine = [(e["action"], e["actor"]) for e in events if e["subject"] == "smoke-audit"]
        expect(mine == [("role.revoke", "alice"), ("role.bind", "alice")], f"audit log shows {mine}")

    def non_admins_cannot_read_audit_log() -> None:
        for user in ("victor", "oscar"):
            status, _ = api.call(user, "GET", "/v1/admin/audit-log")
            expect(status == 403, f"audit log as {user} answered {status}, expected 403")

    return {
        fn.__name__: fn
        for fn in (
            admin_binds_lists_and_revokes,
            non_admins_may_not_bind_list_or_revoke,
            viewer_cannot_escalate_itself,
            strangers_are_unauthenticated,
            admin_reads_audit_log_of_role_changes,
            non_admins_cannot_read_audit_log,
        )
    }


def start_server() -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        ["node", "server.js"], cwd=ROOT / "frontend", env={**os.environ, "PORT": "0"}, stdout=subprocess.PIPE, text=True
    )
    # server.js prints its bound URL once listening; PORT=0 lets the OS pick a free port.
    line = process.stdout.readline().strip()
    if not line.startswith("web listening on "):
        process.kill()
        raise RuntimeError(f"frontend/server.js did not start (exit {process.poll()}): {line!r}")
    return process, line.removeprefix("web listening on ")


def write_junit(path: Path, results: list[tuple[str, float, str | None]]) -> None:
    failures = sum(1 for _, _, error in results if error)
    suite = ET.Element(
        "testsuite",
        name="role_authz_smoke",
        tests=str(len(results)),
        failures=str(failures),
        errors="0",
        time=f"{sum(t for _, t, _ in results):.3f}",
    )
    for name, elapsed, error in results:
        case = ET.SubElement(suite, "testcase", classname="role_authz_smoke", name=name, time=f"{elapsed:.3f}")
        if error:
            ET.SubElement(case, "failure", message=error).text = error
    path.parent.mkdir(parents=True, exist_ok=True)
    root = ET.Element("testsuites", tests=str(len(results)), failures=str(failures))
    root.append(suite)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def main() -> int:
    report = Path(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_REPORT)
    report = report if report.is_absolute() else ROOT / report
    try:
        server, base_url = start_server()
    except (OSError, RuntimeError) as err:
        print(f"role-authz-smoke: {err}", file=sys.stderr)
        return 2
    results = []
    try:
        for name, case in cases(Api(base_url)).items():
            started = time.monotonic()
            try:
                case()
                error = None
            except (AssertionError, OSError, KeyError, TypeError) as err:
                error = f"{type(err).__name__}: {err}"
            results.append((name, time.monotonic() - started, error))
            print(f"role-authz-smoke: {'FAIL' if error else 'ok  '} {name}" + (f": {error}" if error else ""))
    finally:
        server.terminate()
        server.wait()
    write_junit(report, results)
    failed = sum(1 for *_, error in results if error)
    print(f"role-authz-smoke: {len(results) - failed}/{len(results)} passed, JUnit report {report}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
