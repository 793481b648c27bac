"""A throwaway PostgreSQL server for tests: Debian's binaries, a temp data dir, password auth over TCP."""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# initdb and postgres refuse to run as root; Debian's postgresql package creates this user.
SERVICE_USER = "postgres"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    db_name: str
    data_dir: Path

    @property
    def env(self) -> dict[str, str]:
        """The variables pc_release/instance/*.dagster.yaml read their storage credentials from."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USERNAME": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.db_name,
        }

    def connect(self):
        import psycopg2

        return psycopg2.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname=self.db_name
        )


def _bin_dir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise RuntimeError("no PostgreSQL server under /usr/lib/postgresql/*/bin: apt-get install postgresql")
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_service_user(*argv: str) -> list[str]:
    return ["runuser", "-u", SERVICE_USER, "--", *argv] if os.geteuid() == 0 else list(argv)


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")


@contextlib.contextmanager
def running_postgres(db_name: str = "dagster") -> Iterator[PostgresServer]:
    """Start a private PostgreSQL cluster on 127.0.0.1 and a free port; remove it afterwards."""
    bin_dir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="pc-release-pg-"))
    user, password = "pc_release", secrets.token_hex(12)
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        owner = pwd.getpwnam(SERVICE_USER)
        for path in (root, sockets, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    started = False
    try:
        _run(
            _as_service_user(
                str(bin_dir / "initdb"),
                "--no-sync",
                "--username",
                user,
                "--pwfile",
                str(pwfile),
                "--auth-host=md5",
                "--auth-local=peer",
                "--encoding=UTF8",
                "-D",
                str(data),
            )
        )
        # Durability is irrelevant for a test cluster; skipping fsync keeps it fast.
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=off -c synchronous_commit=off"
        _run(
            _as_service_user(
                str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-o", options, "-w", "start"
            )
        )
        started = True
        import psycopg2

        admin = psycopg2.connect(host="127.0.0.1", port=port, user=user, password=password, dbname="postgres")
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{db_name}"')
            # Dagster's PostgreSQL storage opens a connection per event; a SCRAM handshake costs ~30 ms of CPU
            # each, an MD5 one almost nothing. The password is checked either way.
            cursor.execute("SET password_encryption = 'md5'")
            cursor.execute(f"ALTER ROLE {user} PASSWORD %s", (password,))
        admin.close()
        yield PostgresServer("127.0.0.1", port, user, password, db_name, data)
    finally:
        if started:
            subprocess.run(
                _as_service_user(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"),
                capture_output=True,
            )
        shutil.rmtree(root, ignore_errors=True)
