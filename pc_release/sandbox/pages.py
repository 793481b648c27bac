"""The sandbox GitLab's web pages at the `web_url`s its API hands out: a pipeline's jobs by stage, a job's status
and its log, so the links in Dagster's metadata lead somewhere.

The project is private, so, as on GitLab, a page needs a signed-in browser session: without one it redirects to
`/users/sign_in`. The sandbox has no passwords, so its sign-in form takes an access token the API accepts
(Reporter or more, who may read pipelines and job logs on GitLab); the token is checked once and never echoed,
put in a URL, a cookie or a page. Every value shown is HTML-escaped, and the API's tokens are masked in logs.
"""

from __future__ import annotations

import html
import re
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

if TYPE_CHECKING:
    from pc_release.sandbox.gitlab_server import SandboxGitLab

SESSION_COOKIE = "_gitlab_session"
SIGN_IN_PATH = "/users/sign_in"
MASK = "[MASKED]"
_TERMINAL = frozenset({"success", "failed", "canceled", "skipped", "manual"})
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}
_STYLE = (
    "body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
    ".status{font-weight:bold;padding:1px 6px;border-radius:4px;background:#eee}"
    ".success{background:#d4f4dd}.failed{background:#fbd5d5}.running{background:#d5e8fb}"
    "pre{background:#111;color:#eee;padding:1em;overflow:auto;white-space:pre-wrap}"
)


@dataclass(frozen=True)
class Page:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def _escape(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _document(title: str, body: str, *, refresh: bool = False) -> bytes:
    meta = '<meta http-equiv="refresh" content="5">' if refresh else ""
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_escape(title)}</title>{meta}'
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    ).encode()


def _status(status: str) -> str:
    return f'<span class="status {_escape(status)}">{_escape(status)}</span>'


def _local_path(target: str | None) -> str:
    """Only a path on this server may be redirected to after sign-in (no `//host` or `\\host`)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def masked(text: str, hidden: Iterable[str]) -> str:
    for secret in hidden:
        if secret:
            text = text.replace(secret, MASK)
    return text


class Pages:
    """Sign-in, and the pipeline and job pages, for one sandbox GitLab; sessions live as long as the server."""

    def __init__(self, server: SandboxGitLab, hidden: Iterable[str]) -> None:
        self._server = server
        self._hidden = tuple(h for h in hidden if h)
        self._sessions: set[str] = set()
        self._lock = threading.Lock()

    def serve(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes) -> Page | None:
        """The page at `path`, or None when it is not one of them (the server answers 404)."""
        if path == SIGN_IN_PATH:
            return self._sign_in(method, query, body)
        prefix = f"/{self._server.project_path}/-/"
        if method != "GET" or not path.startswith(prefix):
            return None
        parts = path[len(prefix) :].split("/")
        if len(parts) not in (2, 3) or parts[0] not in ("pipelines", "jobs") or not parts[1].isdigit():
            return None
        if len(parts) == 3 and (parts[0], parts[2]) != ("jobs", "raw"):
            return None
        if not self._signed_in(headers):
            return Page(302, b"", headers={"Location": f"{SIGN_IN_PATH}?redirect_to={quote(path)}", **_HEADERS})
        with self._server._lock:
            if parts[0] == "pipelines":
                return self._pipeline_page(int(parts[1]))
            return self._job_page(int(parts[1]), raw=len(parts) == 3)

    # --- sessions ------------------------------------------------------------------------------------

    def _signed_in(self, headers: Mapping[str, str]) -> bool:
        cookies = headers.get("Cookie") or ""
        for cookie in cookies.split(";"):
            name, _, value = cookie.strip().partition("=")
            if name == SESSION_COOKIE:
                with self._lock:
                    return any(secrets.compare_digest(value, known) for known in self._sessions)
        return False

    def _sign_in(self, method: str, query: str, body: bytes) -> Page:
        if method == "GET":
            target = _local_path((parse_qs(query).get("redirect_to") or [None])[0])
            return self._sign_in_form(target, 200, "")
        if method != "POST":
            return Page(405, b"", headers=dict(_HEADERS))
        form = parse_qs(body.decode(errors="replace"))
        token = (form.get("token") or [""])[0]
        target = _local_path((form.get("redirect_to") or [None])[0])
        if not token or not self._server.access.token_level(token):
            return self._sign_in_form(target, 401, "Invalid access token.")
        session = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions.add(session)
        cookie = f"{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax"
        return Page(302, b"", headers={"Location": target, "Set-Cookie": cookie, **_HEADERS})

    def _sign_in_form(self, target: str, status: int, error: str) -> Page:
        alert = f'<p role="alert">{_escape(error)}</p>' if error else ""
        body = (
            f"<h1>Sign in to the sandbox GitLab</h1>{alert}"
            f'<form method="post" action="{SIGN_IN_PATH}">'
            '<label>Access token <input type="password" name="token" autocomplete="off" required></label>'
            f'<input type="hidden" name="redirect_to" value="{_escape(target)}">'
            '<button type="submit">Sign in</button></form>'
            "<p>The sandbox has no passwords: use the token its API accepts (PC_RELEASE_GITLAB_TOKEN).</p>"
        )
        return Page(status, _document("Sign in", body), headers=dict(_HEADERS))

    # --- pages ---------------------------------------------------------------------------------------

    def _not_found(self, what: str) -> Page:
        return Page(404, _document("Not found", f"<h1>{_escape(what)} not found</h1>"), headers=dict(_HEADERS))

    def _pipeline_page(self, pipeline_id: int) -> Page:
        server = self._server
        pipeline = server._pipelines.get(pipeline_id)
        if pipeline is None:
            return self._not_found(f"Pipeline {pipeline_id}")
        view = server.views.pipeline(pipeline, detailed=True)
        rows = []
        for job in server.jobs(pipeline_id):
            duration = "" if job["duration"] is None else f"{job['duration']:.1f}"
            rows.append(
                f"<tr><td>{_escape(job['stage'])}</td>"
                f'<td><a href="{_escape(job["web_url"])}">{_escape(job["name"])}</a> #{job["id"]}</td>'
                f"<td>{_status(job['status'])}</td><td>{duration}</td>"
                f"<td>{'yes' if job['allow_failure'] else ''}</td><td>{_escape(job.get('failure_reason'))}</td></tr>"
            )
        errors = f"<p>YAML errors: {_escape(view['yaml_errors'])}</p>" if view.get("yaml_errors") else ""
        body = (
            f"<h1>Pipeline #{view['id']} {_status(view['status'])}</h1>"
            f"<p>{_escape(server.project_path)} · ref <code>{_escape(view['ref'])}</code> · commit "
            f"<code>{_escape(view['sha'])}</code> · source {_escape(view['source'])}</p>"
            f"<p>created {_escape(view['created_at'])} · started {_escape(view['started_at'])} · finished "
            f"{_escape(view['finished_at'])} · duration {_escape(view['duration'])} s</p>{errors}"
            "<table><thead><tr><th>stage</th><th>job</th><th>status</th><th>duration (s)</th>"
            "<th>allowed to fail</th><th>failure reason</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
        title = f"Pipeline #{view['id']} · {view['status']}"
        refresh = view["status"] not in _TERMINAL
        return Page(200, _document(title, body, refresh=refresh), headers=dict(_HEADERS))

    def _job_page(self, job_id: int, *, raw: bool) -> Page:
        server = self._server
        job = server._jobs.get(job_id)
        if job is None:
            return self._not_found(f"Job {job_id}")
        trace_path = server._trace_path(job_id)
        trace = trace_path.read_text(errors="replace") if trace_path.exists() else ""
        trace = masked(trace, self._hidden)
        if raw:
            return Page(200, trace.encode(), "text/plain; charset=utf-8", headers=dict(_HEADERS))
        view = server.views.job(job)
        pipeline = view["pipeline"]
        reason = f" · failure reason {_escape(view['failure_reason'])}" if view.get("failure_reason") else ""
        shown = _escape(_ANSI.sub("", trace)) if trace else "(no log yet)"
        body = (
            f"<h1>Job {_escape(view['name'])} #{view['id']} {_status(view['status'])}</h1>"
            f'<p>stage {_escape(view["stage"])} · <a href="{_escape(pipeline["web_url"])}">pipeline '
            f"#{pipeline['id']}</a> · ref <code>{_escape(view['ref'])}</code>{reason}</p>"
            f"<p>started {_escape(view['started_at'])} · finished {_escape(view['finished_at'])} · duration "
            f'{_escape(view["duration"])} s · <a href="{_escape(view["web_url"])}/raw">raw log</a></p>'
            f'<pre id="trace">{shown}</pre>'
        )
        title = f"{view['name']} (#{view['id']}) · {view['status']}"
        refresh = view["status"] not in _TERMINAL
        return Page(200, _document(title, body, refresh=refresh), headers=dict(_HEADERS))
