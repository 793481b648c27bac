"""The sandbox GitLab's repository over git's smart HTTP protocol, as GitLab serves `http_url_to_repo`.

Requests under `/<namespace>/<project>.git/` go to git's own `git http-backend` (CGI), after the check GitLab
makes: HTTP Basic auth whose password is a token of the project (any user name, as with GitLab's personal, project
and OAuth tokens), read access to fetch, Developer or more to push, and GitLab's protected-branch rules enforced
the way GitLab enforces them, by a pre-receive hook whose refusal git prints as `remote: GitLab: ...`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEVELOPER = 30
SERVICES = ("git-upload-pack", "git-receive-pack")
_DENIED = "HTTP Basic: Access denied. If a password was provided for Git authentication, the password was incorrect"

# GitLab's pre-receive check, for the rules the sandbox models: (push access level) per protected branch.
_HOOK = """#!{python}
import json, os, sys
level = int(os.environ["PC_SANDBOX_ACCESS_LEVEL"])
protected = json.loads(os.environ["PC_SANDBOX_PROTECTED"])
for line in sys.stdin:
    old, new, ref = line.split()
    branch = ref.removeprefix("refs/heads/")
    if ref.startswith("refs/heads/") and branch in protected:
        push = protected[branch]
        if not push or level < push:
            print("GitLab: You are not allowed to push code to protected branches on this project.")
            sys.exit(1)
"""


@dataclass(frozen=True)
class GitResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def basic_auth_token(headers: Mapping[str, str]) -> str | None:
    """The password of an HTTP Basic `Authorization` header: GitLab reads the token there for git over HTTP."""
    value = headers.get("Authorization") or ""
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, _, password = decoded.partition(":")
    return password or None


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> GitResponse:
    return GitResponse(status, {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}, message.encode())


def _service(method: str, rest: str, query: Mapping[str, list[str]]) -> str | None:
    if method == "GET" and rest == "info/refs":
        service = (query.get("service") or [""])[-1]
        return service if service in SERVICES else None
    if method == "POST" and rest in SERVICES:
        return rest
    return None


def _hooks_dir(data_dir: Path) -> Path:
    hooks = data_dir / "git-hooks"
    hook = hooks / "pre-receive"
    if not hook.exists():
        hooks.mkdir(parents=True, exist_ok=True)
        hook.write_text(_HOOK.format(python=sys.executable))
        hook.chmod(0o755)
    return hooks


def _parse_cgi(output: bytes) -> GitResponse:
    head, _, body = output.partition(b"\r\n\r\n")
    if not body and b"\n\n" in output:
        head, _, body = output.partition(b"\n\n")
    status, headers = 200, {}
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.split()[0])
        elif name:
            headers[name.strip()] = value.strip()
    return GitResponse(status, headers, body)


def serve(
    *,
    origin: Path,
    data_dir: Path,
    access_level: int,
    protected: Mapping[str, tuple[int, int]],
    method: str,
    rest: str,
    query: Mapping[str, list[str]],
    query_string: str,
    headers: Mapping[str, str],
    body: bytes,
) -> GitResponse:
    """One smart-HTTP request for the project's repository; `rest` is the path after `<project>.git/`."""
    if not access_level:
        return _text(401, _DENIED, {"WWW-Authenticate": 'Basic realm="GitLab"'})
    service = _service(method, rest, query)
    if service is None:
        return _text(404, "404 Not Found")
    if service == "git-receive-pack" and access_level < DEVELOPER:
        return _text(403, "You are not allowed to push code to this project.")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_PROJECT_ROOT": str(origin.parent),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": f"/{origin.name}/{rest}",
        "REQUEST_METHOD": method,
        "QUERY_STRING": query_string,
        "CONTENT_TYPE": headers.get("Content-Type") or "",
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_USER": "pc-release-sandbox",
        "REMOTE_ADDR": "127.0.0.1",
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": "http.receivepack",
        "GIT_CONFIG_VALUE_0": "true",
        "GIT_CONFIG_KEY_1": "core.hooksPath",
        "GIT_CONFIG_VALUE_1": str(_hooks_dir(data_dir)),
        "PC_SANDBOX_ACCESS_LEVEL": str(access_level),
        "PC_SANDBOX_PROTECTED": json.dumps({branch: push for branch, (push, _) in protected.items()}),
    }
    if headers.get("Content-Encoding"):
        env["HTTP_CONTENT_ENCODING"] = headers["Content-Encoding"]
    if headers.get("Git-Protocol"):
        env["GIT_PROTOCOL"] = headers["Git-Protocol"]
    done = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
    if done.returncode != 0 and not done.stdout:
        return _text(500, "500 Internal Server Error")
    return _parse_cgi(done.stdout)


def read_chunked(stream) -> bytes:
    """A request body sent with `Transfer-Encoding: chunked`, as git sends pushes larger than http.postBuffer."""
    parts = []
    while True:
        size = int(stream.readline().split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while stream.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(parts)
        parts.append(stream.read(size))
        stream.readline()
