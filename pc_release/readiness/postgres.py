"""Schema and seed applied on a real PostgreSQL the way deploys apply them: to the database the released SHA
left behind, twice, and to a fresh one.

The server is either one pc-release starts itself (Debian's initdb/pg_ctl in a temp dir, 127.0.0.1 only,
password auth, run as an unprivileged user when we are root since initdb refuses root) or an existing server
given by URL. Each scenario gets its own scratch database, dropped afterwards. The temp dir is named after the
process that started the server, so that the next server started removes those of processes killed before they
could stop theirs, stopping a postmaster still running there.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions

from pc_release.errors import ConfigurationError, redact
from pc_release.processes import ProcessId
from pc_release.readiness.models import (
    CANDIDATE_SCHEMA,
    CANDIDATE_SCHEMA_AGAIN,
    CANDIDATE_SEED,
    SqlFailure,
    SqlStep,
)
from pc_release.readiness.sql_statements import SqlStatement, split_statements

POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"
# A deploy that hangs is a failure too; these keep one bad statement from stalling the promotion.
_SESSION_OPTIONS = "-c statement_timeout=60000 -c lock_timeout=10000"
_UNPRIVILEGED_USERS = ("postgres", "nobody")
_ROOT_PREFIX = "pc-release-postgres-"


def find_postgres_bin() -> Path:
    """The directory holding initdb and pg_ctl: Debian's newest version dir, else whatever PATH has."""
    versioned = sorted(
        (Path(path) for path in glob.glob(POSTGRES_BIN_GLOB) if (Path(path) / "initdb").exists()),
        key=lambda path: [int(part) if part.isdigit() else 0 for part in re.split(r"[.]", path.parent.name)],
    )
    if versioned:
        return versioned[-1]
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise ConfigurationError(
        f"no PostgreSQL server binaries (initdb, pg_ctl) under {POSTGRES_BIN_GLOB} or on PATH; install the "
        "postgresql package or set PC_RELEASE_POSTGRES_URL to an existing server",
        rule="postgres",
    )


def _unprivileged_user() -> pwd.struct_passwd | None:
    """Who runs the server: ourselves, unless we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in _UNPRIVILEGED_USERS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise ConfigurationError(
        f"running as root and none of the users {', '.join(_UNPRIVILEGED_USERS)} exists to run PostgreSQL",
        rule="postgres",
    )


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """A throwaway PostgreSQL server; use as a context manager, `url` is its superuser URL."""

    def __init__(self, bin_dir: Path | None = None, *, max_connections: int = 30, auth: str = "scram-sha-256") -> None:
        self.bin_dir = bin_dir
        self.max_connections = max_connections
        self.auth = auth
        self._root: Path | None = None
        self._password = secrets.token_urlsafe(24)
        self._port = 0

    @property
    def url(self) -> str:
        if self._root is None:
            raise ConfigurationError("the PostgreSQL server is not running", rule="postgres")
        return f"postgresql://postgres:{self._password}@127.0.0.1:{self._port}/postgres"

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        return _run_as_server_user(self._root, *command)

    def start(self) -> None:
        bin_dir = self.bin_dir or find_postgres_bin()
        _remove_abandoned(bin_dir)
        self._root = Path(tempfile.mkdtemp(prefix=f"{_ROOT_PREFIX}{ProcessId.current().tag}-"))
        user = _unprivileged_user()
        password_file = self._root / "password"
        password_file.write_text(self._password)
        password_file.chmod(0o600)
        if user is not None:
            for path in (self._root, password_file):
                os.chown(path, user.pw_uid, user.pw_gid)
        data = self._root / "data"
        initdb = self._run(
            str(bin_dir / "initdb"),
            "--pgdata",
            str(data),
            "--username=postgres",
            f"--auth={self.auth}",
            f"--pwfile={password_file}",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        )
        password_file.unlink()
        if initdb.returncode != 0:
            self._cleanup()
            raise ConfigurationError(f"initdb failed: {initdb.stderr.strip()[-800:]}", rule="postgres")
        # A port taken between our probe and the server's bind is retried on another one.
        for _ in range(3):
            self._port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -c port={self._port} -c unix_socket_directories={self._root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                f"-c max_connections={self.max_connections}"
            )
            started = self._run(
                str(bin_dir / "pg_ctl"), "--pgdata", str(data), "--log", str(self._root / "server.log"),
                "--wait", "--timeout=30", "--silent", "-o", options, "start",
            )  # fmt: skip
            if started.returncode == 0:
                return
        log = (self._root / "server.log").read_text(errors="replace")[-800:] if self._root else ""
        self._cleanup()
        raise ConfigurationError(f"PostgreSQL did not start: {started.stderr.strip()} {log}", rule="postgres")

    def stop(self) -> None:
        if self._root is None:
            return
        bin_dir = self.bin_dir or find_postgres_bin()
        self._run(str(bin_dir / "pg_ctl"), "--pgdata", str(self._root / "data"), "--mode=immediate", "--wait",
                  "--silent", "stop")  # fmt: skip
        self._cleanup()

    def _cleanup(self) -> None:
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None


def _run_as_server_user(cwd: Path | None, *command: str) -> subprocess.CompletedProcess[str]:
    user = _unprivileged_user()
    identity: dict[str, Any] = {}
    if user is not None:
        identity = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
    return subprocess.run(list(command), cwd=cwd, env=env, capture_output=True, text=True, check=False, **identity)


def _remove_abandoned(bin_dir: Path) -> None:
    """Servers whose process was killed before stopping them: stop the postmaster still serving there, remove
    the directory (the data and, when initdb was interrupted, the password file)."""
    for root in Path(tempfile.gettempdir()).glob(f"{_ROOT_PREFIX}*"):
        owner = ProcessId.from_tag(root.name.removeprefix(_ROOT_PREFIX))
        if owner is None or owner.running():
            continue
        with suppress(OSError):  # another user's: not ours to clean
            if (root / "data" / "postmaster.pid").exists():
                _run_as_server_user(root, str(bin_dir / "pg_ctl"), "--pgdata", str(root / "data"),
                                    "--mode=immediate", "--wait", "--silent", "stop")  # fmt: skip
            shutil.rmtree(root, ignore_errors=True)


@contextmanager
def postgres_url(configured: str | None) -> Iterator[str]:
    """The configured server, or a throwaway one for the duration of the block."""
    if configured:
        yield configured
        return
    with PostgresServer() as server:
        yield server.url


def _password(url: str) -> str | None:
    try:
        return psycopg2.extensions.parse_dsn(url).get("password")
    except psycopg2.ProgrammingError:
        return None


def connect(url: str, **overrides: str) -> psycopg2.extensions.connection:
    try:
        connection = psycopg2.connect(
            url,
            connect_timeout=10,
            application_name="pc-release-readiness",
            options=_SESSION_OPTIONS,
            **overrides,
        )
    except psycopg2.Error as err:
        raise ConfigurationError(
            f"cannot connect to PostgreSQL: {redact(str(err).strip(), _password(url))}", rule="postgres"
        ) from err
    connection.autocommit = True
    return connection


@contextmanager
def scratch_database(url: str) -> Iterator[psycopg2.extensions.connection]:
    """A new empty database on the server at `url`, dropped when the block ends."""
    name = f"pc_release_readiness_{secrets.token_hex(6)}"
    with closing(connect(url)) as admin:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        try:
            with closing(connect(url, dbname=name)) as connection:
                yield connection
        finally:
            with admin.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class SqlFile:
    """A file to apply: its repo path, the SHA it comes from, and its text (None: absent at that SHA)."""

    path: str
    sha: str
    text: str | None


def apply_file(connection: psycopg2.extensions.connection, name: str, sql: SqlFile) -> SqlStep:
    """Run the file statement by statement, as psql with ON_ERROR_STOP would; stop at the first error."""
    if sql.text is None:
        return SqlStep(name=name, file=sql.path, sha=sql.sha, status="absent")
    statements = split_statements(sql.text)
    try:
        for statement in statements:
            with connection.cursor() as cursor:
                try:
                    cursor.execute(statement.text)
                except psycopg2.Error as err:
                    return SqlStep(
                        name=name,
                        file=sql.path,
                        sha=sql.sha,
                        status="failed",
                        statements=len(statements),
                        failure=_failure(sql.path, statement, err),
                    )
    finally:
        # psql ends its session at the end of the file: a transaction left open there is rolled back.
        if connection.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
            # connection.rollback() is a no-op in autocommit mode; the server-side transaction needs the verb.
            with connection.cursor() as cursor:
                cursor.execute("ROLLBACK")
    return SqlStep(name=name, file=sql.path, sha=sql.sha, status="applied", statements=len(statements))


def _failure(path: str, statement: SqlStatement, err: psycopg2.Error) -> SqlFailure:
    diag = err.diag
    position = int(diag.statement_position) if diag.statement_position else None
    shown = statement.code if len(statement.code) <= 240 else statement.code[:237] + "..."
    message = diag.message_primary or (str(err).strip().splitlines() or [type(err).__name__])[0]
    return SqlFailure(
        file=path,
        line=statement.line_of(position),
        statement=shown,
        sqlstate=err.pgcode or "",
        message=message,
        detail=diag.message_detail or "",
        hint=diag.message_hint or "",
        constraint=diag.constraint_name or "",
        table=diag.table_name or "",
        column=diag.column_name or "",
    )


def apply_sequence(connection: psycopg2.extensions.connection, steps: Sequence[tuple[str, SqlFile]]) -> list[SqlStep]:
    """Apply files in order; once one fails, the rest are recorded as not run (the database state is broken)."""
    applied: list[SqlStep] = []
    for name, sql in steps:
        if any(step.status == "failed" for step in applied):
            applied.append(SqlStep(name=name, file=sql.path, sha=sql.sha, status="not_run"))
        else:
            applied.append(apply_file(connection, name, sql))
    return applied


def run_scenarios(
    url: str,
    released: Sequence[tuple[str, SqlFile]],
    candidate_schema: SqlFile,
    candidate_seed: SqlFile,
) -> tuple[list[SqlStep], bool, list[SqlStep]]:
    """(upgrade steps, whether the released database could be rebuilt, fresh-database steps).

    Upgrade: released schema -> released seed -> candidate schema -> candidate schema again -> candidate seed.
    When the released files themselves fail, the candidate steps run on an empty database instead, so the
    idempotency and seed verdicts still mean something.
    """
    candidate = [
        (CANDIDATE_SCHEMA, candidate_schema),
        (CANDIDATE_SCHEMA_AGAIN, candidate_schema),
        (CANDIDATE_SEED, candidate_seed),
    ]
    with scratch_database(url) as connection:
        baseline = apply_sequence(connection, released)
        baseline_ok = all(step.status != "failed" for step in baseline)
        upgrade = baseline + (apply_sequence(connection, candidate) if baseline_ok else [])
    if not baseline_ok:
        with scratch_database(url) as connection:
            upgrade += apply_sequence(connection, candidate)
    with scratch_database(url) as connection:
        fresh = apply_sequence(connection, [(CANDIDATE_SCHEMA, candidate_schema), (CANDIDATE_SEED, candidate_seed)])
    return upgrade, baseline_ok, fresh
