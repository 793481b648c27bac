"""The schema harness on a real PostgreSQL: released -> candidate -> candidate again -> seed, and a fresh
database, with errors located by file, line and statement, and constraint names kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg2
import pytest

from pc_release.errors import ConfigurationError
from pc_release.policy import readiness as rules
from pc_release.readiness.models import RELEASED_SCHEMA, RELEASED_SEED, SchemaRun
from pc_release.readiness.postgres import PostgresServer, SqlFile, connect, run_scenarios, scratch_database
from pc_release.sandbox.sample import SAMPLE_REPO_TEMPLATE

SCHEMA = (SAMPLE_REPO_TEMPLATE / "db_schema_v1.sql").read_text()
SEED = (SAMPLE_REPO_TEMPLATE / "scripts/seed.sql").read_text()


def released(schema: str | None = SCHEMA, seed: str | None = SEED) -> list[tuple[str, SqlFile]]:
    return [
        (RELEASED_SCHEMA, SqlFile("db_schema_v1.sql", "r" * 40, schema)),
        (RELEASED_SEED, SqlFile("scripts/seed.sql", "r" * 40, seed)),
    ]


def run(url: str, schema: str, seed: str | None, baseline=None) -> SchemaRun:
    upgrade, baseline_ok, fresh = run_scenarios(
        url,
        released() if baseline is None else baseline,
        SqlFile("db_schema_v1.sql", "c" * 40, schema),
        SqlFile("scripts/seed.sql", "c" * 40, seed),
    )
    return SchemaRun(baseline="released SHA rrrrrrrrrrrr", baseline_ok=baseline_ok, upgrade=upgrade, fresh=fresh)


def statuses(steps) -> list[tuple[str, str]]:
    return [(step.name, step.status) for step in steps]


def test_sample_applies_on_released_twice_and_fresh(postgres_server):
    result = run(postgres_server, SCHEMA, SEED)
    assert statuses(result.upgrade) == [
        ("released schema", "applied"),
        ("released seed", "applied"),
        ("candidate schema", "applied"),
        ("candidate schema again", "applied"),
        ("candidate seed", "applied"),
    ]
    assert statuses(result.fresh) == [("candidate schema", "applied"), ("candidate seed", "applied")]
    for verdict in (
        rules.schema_safe_for_existing_database(result),
        rules.schema_idempotent(result),
        rules.seed_allowed_by_deployed_constraints(result),
        rules.schema_fresh_database(result),
    ):
        assert verdict.ok and not verdict.warning, verdict.reason


def test_error_inside_a_multi_line_statement_names_its_line(postgres_server):
    schema = SCHEMA + "\nCREATE TABLE IF NOT EXISTS broken (\n    id BIGINT,\n    nope NOT A TYPE\n);\n"
    result = run(postgres_server, schema, SEED)
    failure = result.step("fresh", "candidate schema").failure
    assert failure.line == len(SCHEMA.splitlines()) + 4
    assert failure.sqlstate == "42601"
    assert failure.statement.startswith("CREATE TABLE IF NOT EXISTS broken ( id BIGINT, nope NOT A TYPE")
    assert statuses(result.fresh) == [("candidate schema", "failed"), ("candidate seed", "not_run")]
    verdict = rules.schema_fresh_database(result)
    assert not verdict.ok and verdict.evidence["line"] == failure.line


def test_dollar_quoted_bodies_and_procedural_blocks_apply(postgres_server):
    schema = SCHEMA + (
        "\nCREATE OR REPLACE FUNCTION touch() RETURNS trigger AS $fn$\nBEGIN\n  NEW.at := now();\n  RETURN NEW;\n"
        "END;\n$fn$ LANGUAGE plpgsql;\n"
        "DO $$ BEGIN\n  IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'level') THEN\n"
        "    CREATE TYPE level AS ENUM ('low', 'high');\n  END IF;\nEND $$;\n"
    )
    result = run(postgres_server, schema, SEED)
    assert rules.schema_idempotent(result).ok
    assert all(step.status == "applied" for step in result.upgrade + result.fresh)


def test_seed_constraint_violation_names_the_constraint(postgres_server):
    seed = SEED.replace(
        "('victor', 'platform-viewer', 'seed')", "('victor', 'platform-viewer', 'seed'), ('x', 'root', 'seed')"
    )
    result = run(postgres_server, SCHEMA, seed)
    verdict = rules.seed_allowed_by_deployed_constraints(result)
    assert not verdict.ok
    assert verdict.evidence["constraint"] == "platform_role_bindings_role_check"
    assert verdict.evidence["sqlstate"] == "23514"
    assert "Failing row contains" in verdict.evidence["detail"]
    assert rules.schema_safe_for_existing_database(result).ok
    assert not rules.schema_fresh_database(result).ok


def test_released_files_that_fail_leave_the_upgrade_unverified_but_still_check_the_candidate(postgres_server):
    baseline = released(schema="CREATE TABLE legacy (id int);\nSELECT no_such_function();\n")
    non_idempotent = SCHEMA + "\nALTER TABLE admin_audit_log ADD COLUMN note TEXT;\n"
    result = run(postgres_server, non_idempotent, SEED, baseline=baseline)
    assert not result.baseline_ok
    assert statuses(result.upgrade) == [
        ("released schema", "failed"),
        ("released seed", "not_run"),
        ("candidate schema", "applied"),
        ("candidate schema again", "failed"),
        ("candidate seed", "not_run"),
    ]
    upgrade = rules.schema_safe_for_existing_database(result)
    assert upgrade.ok and upgrade.warning
    assert "db_schema_v1.sql:2: function no_such_function() does not exist" in upgrade.reason
    assert not rules.schema_idempotent(result).ok


def test_a_transaction_left_open_at_the_end_of_a_file_is_rolled_back(postgres_server):
    schema = "BEGIN;\nCREATE TABLE IF NOT EXISTS pending (id int);\n"
    result = run(postgres_server, schema, "INSERT INTO pending VALUES (1);\n", baseline=[])
    failure = result.step("upgrade", "candidate seed").failure
    assert (failure.sqlstate, failure.file, failure.line) == ("42P01", "scripts/seed.sql", 1)


def test_scratch_databases_are_dropped(postgres_server):
    with scratch_database(postgres_server) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        (name,) = cursor.fetchone()
    with connect(postgres_server) as admin, admin.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,))
        assert cursor.fetchone() == (0,)
    assert name.startswith("pc_release_readiness_")


def test_unreachable_server_is_a_configuration_error_without_the_password(postgres_server):
    dsn = psycopg2.extensions.parse_dsn(postgres_server)
    url = f"postgresql://postgres:{dsn['password']}@127.0.0.1:{dsn['port']}/postgres?sslmode=disable"
    wrong = url.replace(dsn["password"], "s3cret-wrong-password")
    with pytest.raises(ConfigurationError) as caught:
        connect(wrong)
    assert caught.value.rule == "postgres"
    assert "s3cret-wrong-password" not in str(caught.value)
    assert "password authentication failed" in str(caught.value)


def test_server_of_a_killed_process_is_stopped_and_removed_by_the_next_one():
    dies_serving = (
        "import os, signal; from pc_release.readiness.postgres import PostgresServer; "
        "PostgresServer().start(); os.kill(os.getpid(), signal.SIGKILL)"
    )
    killed = subprocess.Popen([sys.executable, "-c", dies_serving])
    assert killed.wait(timeout=120) == -signal.SIGKILL
    (left,) = Path(tempfile.gettempdir()).glob(f"pc-release-postgres-{killed.pid}-*")
    postmaster = int((left / "data" / "postmaster.pid").read_text().split()[0])
    try:
        assert serving(postmaster)
        with PostgresServer():
            assert not left.exists()
            assert not serving(postmaster)
    finally:
        if serving(postmaster):
            os.kill(postmaster, signal.SIGKILL)


def serving(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
