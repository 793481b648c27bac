"""WSGI front of the API runtime, implementing api/openapi.yaml over a RoleStore."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, make_server

from app.roles import DEFAULT_SEED, Conflict, Forbidden, NotFound, RoleStore, Unauthenticated

BINDING_PATH = re.compile(r"^/v1/platform-roles/bindings/(?P<id>[^/]+)$")
STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
}


def create_app(store: RoleStore) -> Callable:
    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        status, body = route(store, environ)
        payload = b"" if body is None else json.dumps(body).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        start_response(f"{status} {STATUS_TEXT[status]}", headers)
        return [payload]

    return app


def route(store: RoleStore, environ: dict) -> tuple[int, object]:
    method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
    user = environ.get("HTTP_X_PLATFORM_USER")
    try:
        if path == "/healthz" and method == "GET":
            return 200, {"status": "ok"}
        if path == "/v1/platform-roles/bindings" and method == "GET":
            return 200, store.list_bindings(user)
        if path == "/v1/platform-roles/bindings" and method == "POST":
            body = read_json(environ)
            return 201, store.bind(user, str(body.get("subject", "")), str(body.get("role", "")))
        match = BINDING_PATH.match(path)
        if match and method == "DELETE":
            store.revoke(user, match["id"])
            return 204, None
        if path == "/v1/admin/audit-log" and method == "GET":
            return 200, store.audit_log(user)
        return 404, {"error": f"no route {method} {path}"}
    except Unauthenticated as err:
        return 401, {"error": str(err)}
    except Forbidden as err:
        return 403, {"error": str(err)}
    except NotFound as err:
        return 404, {"error": f"no binding {err}"}
    except Conflict as err:
        return 409, {"error": str(err)}
    except ValueError as err:
        return 400, {"error": str(err)}


def read_json(environ: dict) -> dict:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length) or b"{}")
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's signature
        """Silenced: one line per request would drown the runtime's own log."""


def serve(port: int) -> None:
    with make_server("0.0.0.0", port, create_app(RoleStore(DEFAULT_SEED)), handler_class=QuietHandler) as server:
        print(f"api listening on :{port}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    serve(int(os.environ.get("PORT", "8080")))
