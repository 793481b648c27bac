"""A tiny HTTP proxy in front of the sandbox GitLab, for answers the sandbox itself never gives.

`answer(method, path, headers)` decides per request: None forwards it untouched; (status, body) answers instead of
GitLab (a 403 for a token without the `api` scope); ("lost", status) forwards it, lets GitLab act on it,
and then answers `status` instead, as a proxy that drops the response of a request already done.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

Answer = tuple[int, dict] | tuple[str, int] | None


class GitLabProxy:
    def __init__(self, upstream: str, answer: Callable[[str, str, dict[str, str]], Answer]) -> None:
        self._upstream = urlsplit(upstream)
        self._answer = answer
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> GitLabProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
        connection = http.client.HTTPConnection(self._upstream.hostname, self._upstream.port, timeout=30)
        try:
            connection.request(method, path, body=body or None, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                """Silent: request headers carry the token."""

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                decision = proxy._answer(self.command, urlsplit(self.path).path, dict(self.headers.items()))
                if decision is not None and decision[0] != "lost":
                    status, payload = decision
                    self._send(status, {"Content-Type": "application/json"}, json.dumps(payload).encode())
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                status, response_headers, content = proxy._forward(self.command, self.path, headers, body)
                if decision is not None:
                    status, content = decision[1], json.dumps({"message": f"{decision[1]} Bad Gateway"}).encode()
                    response_headers = {"Content-Type": "application/json"}
                self._send(status, response_headers, content)

            def _send(self, status: int, headers: dict, content: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        return Handler
