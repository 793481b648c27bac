"""The PostgreSQL a Dagster instance stores runs in during the production tests, on readiness's throwaway server."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg2
import psycopg2.extensions

from pc_release.readiness.postgres import PostgresServer, connect


@dataclass(frozen=True)
class DagsterDatabase:
    host: str
    port: int
    user: str
    password: str
    db_name: str

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
        return psycopg2.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname=self.db_name
        )


@contextlib.contextmanager
def running_postgres(db_name: str = "dagster") -> Iterator[DagsterDatabase]:
    """A private PostgreSQL on 127.0.0.1 with one database for Dagster; removed afterwards.

    Dagster's PostgreSQL storage opens a connection per event: the server allows 100 of them (20 concurrent
    runs), and authenticates with MD5, since a SCRAM handshake costs ~30 ms of CPU each. The password is
    checked either way.
    """
    with PostgresServer(max_connections=100, auth="md5") as server:
        dsn = psycopg2.extensions.parse_dsn(server.url)
        admin = connect(server.url)
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{db_name}"')
            cursor.execute("SET password_encryption = 'md5'")
            cursor.execute(f"ALTER ROLE {dsn['user']} PASSWORD %s", (dsn["password"],))
        admin.close()
        yield DagsterDatabase(dsn["host"], int(dsn["port"]), dsn["user"], dsn["password"], db_name)
