"""HTTP for the sandbox GitLab: parsing requests, GitLab's error and pagination answers, and the handler that
serves git's HTTP protocol, logs API requests, applies injected faults, checks tokens and dispatches."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from pc_release.sandbox import git_http, pages
from pc_release.sandbox.gitlab.access import MAINTAINER

if TYPE_CHECKING:
    from pc_release.sandbox.gitlab.routes import Api
    from pc_release.sandbox.gitlab.server import SandboxGitLab


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] | None = None


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(payload).encode(), "application/json", headers)


def error(status: int, message: Any) -> Response:
    return json_response(status, {"message": message})


class ApiError(Exception):
    def __init__(self, status: int, message: Any) -> None:
        super().__init__(message)
        self.response = error(status, message)


@dataclass
class Request:
    access_level: int
    method: str
    query: dict[str, list[str]]
    body: dict[str, Any]
    base_url: str
    raw_path: str

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str) -> bool:
        """Grape's Boolean coercion: python-gitlab sends Python's `True`, curl users send `true` or `1`."""
        return (self.arg(name) or "").lower() in ("true", "1", "yes")

    def int_arg(self, name: str, default: int) -> int:
        try:
            return int(self.arg(name) or default)
        except ValueError:
            return default


def paginate(request: Request, items: list[Any]) -> Response:
    """GitLab's offset pagination: X-* headers and a Link header python-gitlab follows."""
    per_page = min(max(request.int_arg("per_page", 20), 1), 100)
    page = max(request.int_arg("page", 1), 1)
    total = len(items)
    total_pages = max((total + per_page - 1) // per_page, 1)
    chunk = items[(page - 1) * per_page : page * per_page]

    def page_url(number: int) -> str:
        query = {k: v[-1] for k, v in request.query.items()}
        query.update({"page": str(number), "per_page": str(per_page)})
        return f"{request.base_url}{request.raw_path}?{urlencode(query)}"

    links = []
    if page < total_pages:
        links.append(f'<{page_url(page + 1)}>; rel="next"')
    if page > 1:
        links.append(f'<{page_url(page - 1)}>; rel="prev"')
    links.append(f'<{page_url(1)}>; rel="first"')
    links.append(f'<{page_url(total_pages)}>; rel="last"')
    headers = {
        "X-Page": str(page),
        "X-Per-Page": str(per_page),
        "X-Total": str(total),
        "X-Total-Pages": str(total_pages),
        "X-Next-Page": str(page + 1) if page < total_pages else "",
        "X-Prev-Page": str(page - 1) if page > 1 else "",
        "Link": ", ".join(links),
    }
    return json_response(200, chunk, headers)


_REDACTED_QUERY_KEYS = ("private_token", "access_token", "job_token")


def loggable(raw_path: str, query: str) -> str:
    """The request path for the log, with any token-bearing query parameter removed."""
    if not query:
        return raw_path
    pairs = [p for p in query.split("&") if p.split("=", 1)[0].lower() not in _REDACTED_QUERY_KEYS]
    return f"{raw_path}?{'&'.join(pairs)}" if pairs else raw_path


def handler_for(server: SandboxGitLab, api: Api) -> type[BaseHTTPRequestHandler]:
    """The request handler: git's HTTP protocol for the repository, the API through `api`'s route table."""

    site = pages.Pages(
        server, hidden=(server._token, *server.access._developer_tokens, *server.access._reporter_tokens)
    )

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "pc-release-sandbox-gitlab"

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: the request log is kept in memory, and headers (tokens) are never printed."""

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_PUT(self) -> None:
            self._dispatch("PUT")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

        def _dispatch(self, method: str) -> None:
            body = self._read_body()
            split = urlsplit(self.path)
            raw_path = split.path
            try:
                response = self._route(method, raw_path, split.query, body)
            except ApiError as err:
                response = err.response
            except Exception as err:  # a sandbox bug answers 500, like GitLab, instead of dropping the socket
                response = error(500, f"500 Internal Server Error ({type(err).__name__})")
            self._send(response)

        def _route(self, method: str, raw_path: str, query: str, raw_body: bytes) -> Response:
            repository = f"/{server.project_path}.git/"
            if raw_path.startswith(repository):
                answer = git_http.serve(
                    origin=server._origin.path,
                    data_dir=server._data_dir,
                    access_level=server.access.token_level(git_http.basic_auth_token(self.headers) or ""),
                    protected=server.access.protected,
                    method=method,
                    rest=raw_path[len(repository) :],
                    query=parse_qs(query),
                    query_string=query,
                    headers=self.headers,
                    body=raw_body,
                )
                content_type = answer.headers.pop("Content-Type", "text/plain")
                return Response(answer.status, answer.body, content_type, answer.headers)
            if raw_path.startswith("/api/v4/"):
                server.log_request(method, loggable(raw_path, query))
                fault = server.faults.answer()
                if fault is not None:
                    return fault
            elif not raw_path.startswith("/-/sandbox/"):
                page = site.serve(method, raw_path, query, self.headers, raw_body)
                if page is None:
                    return error(404, "404 Not Found")
                return Response(page.status, page.body, page.content_type, page.headers)
            access_level = server.access.request_level(self.headers)
            if not access_level or (raw_path.startswith("/-/sandbox/") and access_level < MAINTAINER):
                return error(401, "401 Unauthorized")
            request = Request(
                access_level=access_level,
                method=method,
                query=parse_qs(query, keep_blank_values=True),
                body=self._parse_body(raw_body),
                base_url=f"http://{self.headers.get('Host') or server.url.removeprefix('http://')}",
                raw_path=raw_path,
            )
            return api.dispatch(request)

        def _read_body(self) -> bytes:
            if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
                return git_http.read_chunked(self.rfile)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _parse_body(self, raw: bytes) -> dict[str, Any]:
            if not raw:
                return {}
            content_type = self.headers.get("Content-Type") or ""
            if "json" in content_type:
                try:
                    parsed = json.loads(raw)
                except ValueError as err:
                    raise ApiError(400, "body is not valid JSON") from err
                return parsed if isinstance(parsed, dict) else {}
            return form_body(raw.decode(errors="replace"))

        def _send(self, response: Response) -> None:
            self.send_response(response.status, HTTPStatus(response.status).phrase)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for key, value in (response.headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(response.body)

    return Handler


def form_body(text: str) -> dict[str, Any]:
    """Form-encoded bodies: `ref=x&variables[][key]=K&variables[][value]=V` as GitLab's Grape reads them."""
    body: dict[str, Any] = {}
    variables: list[dict[str, str]] = []
    for key, values in parse_qs(text, keep_blank_values=True).items():
        if not key.startswith("variables["):
            body[key] = values[-1]
    pending: dict[str, str] = {}
    for pair in text.split("&"):
        key, _, value = pair.partition("=")
        key = unquote(key)
        if key.startswith("variables[") and key.endswith("]"):
            name = key.rsplit("[", 1)[1].rstrip("]")
            if name in pending:
                variables.append(pending)
                pending = {}
            pending[name] = unquote(value.replace("+", " "))
    if pending:
        variables.append(pending)
    if variables:
        body["variables"] = variables
    return body
