"""The SQL statement splitter (what PostgreSQL is sent, and where each statement starts) and the static lint of
schema changes that only work on a fresh database, read with PostgreSQL's grammar."""

from __future__ import annotations

import pytest

from pc_release.readiness.schema_lint import lint_schema
from pc_release.readiness.sql_statements import split_statements
from pc_release.sandbox.sample import SAMPLE_REPO_TEMPLATE

SAMPLE_SCHEMA = (SAMPLE_REPO_TEMPLATE / "db_schema_v1.sql").read_text()


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        pytest.param("SELECT 1;\nSELECT 2;\n", [(1, "SELECT 1"), (2, "SELECT 2")], id="two statements"),
        pytest.param("-- a; comment\n\nSELECT 1;", [(3, "SELECT 1")], id="leading comment skipped"),
        pytest.param(
            "SELECT 1 /* a; /* nested; */ still */ + 1;",
            [(1, "SELECT 1 /* a; /* nested; */ still */ + 1")],
            id="nested block comment",
        ),
        pytest.param(
            "INSERT INTO t VALUES ('a;b', 'it''s;');SELECT 2",
            [(1, "INSERT INTO t VALUES ('a;b', 'it''s;')"), (1, "SELECT 2")],
            id="strings and doubled quotes, last statement without semicolon",
        ),
        pytest.param(
            "SELECT E'it\\'s; fine';\nSELECT 'plain\\';",
            [(1, "SELECT E'it\\'s; fine'"), (2, "SELECT 'plain\\'")],
            id="E-string backslash escapes only in E strings",
        ),
        pytest.param('CREATE TABLE "a;b" (x int);', [(1, 'CREATE TABLE "a;b" (x int)')], id="quoted identifier"),
        pytest.param(
            "DO $$ BEGIN PERFORM 1; END $$;\nCREATE FUNCTION f() RETURNS int AS $fn$ SELECT 1; $fn$ LANGUAGE sql;",
            [
                (1, "DO $$ BEGIN PERFORM 1; END $$"),
                (2, "CREATE FUNCTION f() RETURNS int AS $fn$ SELECT 1; $fn$ LANGUAGE sql"),
            ],
            id="dollar quoting with and without tag",
        ),
        pytest.param("SELECT a$b$c FROM t; SELECT 2;", [(1, "SELECT a$b$c FROM t"), (1, "SELECT 2")], id="$ in names"),
        pytest.param(";;\n  ;\n", [], id="empty statements"),
        pytest.param(
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT 2;\nEND;\nSELECT 3;",
            [
                (1, "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT 2;\nEND"),
                (6, "SELECT 3"),
            ],
            id="SQL-standard function body keeps its semicolons",
        ),
        pytest.param(
            "SELECT 1;\nSELEC 2;\n-- c\nSELECT 3",
            [(1, "SELECT 1"), (2, "SELEC 2"), (4, "SELECT 3")],
            id="a file the grammar refuses is still cut for the database to report",
        ),
    ],
)
def test_split_statements(sql, expected):
    assert [(statement.line, statement.text) for statement in split_statements(sql)] == expected


def test_statement_code_drops_comments_keeps_literals():
    (statement,) = split_statements("ALTER TABLE t -- why\n  ADD CONSTRAINT c CHECK (x IN ('a;b -- no'));")
    assert statement.code == "ALTER TABLE t ADD CONSTRAINT c CHECK (x IN ('a;b -- no'))"


def test_error_position_maps_to_the_file_line():
    statements = split_statements("SELECT 1;\n\nINSERT INTO t (a)\nVALUES\n  (1, 2);\n")
    insert = statements[1]
    assert insert.line == 3
    assert insert.line_of(insert.text.index("(1, 2)") + 1) == 5
    assert insert.line_of(None) == 3


RELEASED = """
CREATE TABLE IF NOT EXISTS bindings (id BIGSERIAL PRIMARY KEY, role TEXT NOT NULL CHECK (role IN ('admin')));
ALTER TABLE bindings ADD COLUMN IF NOT EXISTS created_by TEXT;
"""


@pytest.mark.parametrize(
    ("candidate", "released", "expected"),
    [
        pytest.param(SAMPLE_SCHEMA, SAMPLE_SCHEMA, [], id="sample schema is clean"),
        pytest.param(SAMPLE_SCHEMA, None, [], id="sample schema, first release"),
        pytest.param("CREATE TABLE t (a int);", None, [(1, "create-if-not-exists")], id="create table"),
        pytest.param("CREATE TEMP TABLE t (a int);", None, [], id="temporary table"),
        pytest.param("CREATE UNLOGGED TABLE t (a int);", None, [(1, "create-if-not-exists")], id="unlogged"),
        pytest.param("\nCREATE UNIQUE INDEX i ON t (a);", None, [(2, "create-if-not-exists")], id="create index"),
        pytest.param("CREATE INDEX ON t (a);", None, [(1, "create-if-not-exists")], id="unnamed index"),
        pytest.param("CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);", None, [], id="index if not exists"),
        pytest.param("ALTER TABLE t ADD COLUMN b int;", None, [(1, "add-column-if-not-exists")], id="add column"),
        pytest.param("ALTER TABLE t ADD b int;", None, [(1, "add-column-if-not-exists")], id="add without COLUMN"),
        pytest.param(
            "ALTER TABLE ONLY t ADD COLUMN IF NOT EXISTS a int, ADD COLUMN b int;",
            None,
            [(1, "add-column-if-not-exists")],
            id="second action of a multi-action ALTER",
        ),
        pytest.param(
            "ALTER TABLE t ADD PRIMARY KEY (id);",
            None,
            [(1, "constraint-refresh")],
            id="unnamed primary key is a constraint, and cannot be refreshed",
        ),
        pytest.param("ALTER TABLE t ADD CHECK (a > 0);", None, [(1, "constraint-refresh")], id="unnamed check"),
        pytest.param(
            "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0);", None, [(1, "constraint-refresh")], id="add constraint"
        ),
        pytest.param(
            "ALTER TABLE t DROP CONSTRAINT IF EXISTS c;\nALTER TABLE t ADD CONSTRAINT c CHECK (a > 0);",
            None,
            [],
            id="refreshed constraint",
        ),
        pytest.param(
            "ALTER TABLE t DROP CONSTRAINT IF EXISTS c, ADD CONSTRAINT c CHECK (a > 0);",
            None,
            [],
            id="refreshed in one statement",
        ),
        pytest.param(
            "ALTER TABLE other DROP CONSTRAINT IF EXISTS c;\nALTER TABLE t ADD CONSTRAINT c CHECK (a > 0);",
            None,
            [(2, "constraint-refresh")],
            id="drop on another table does not count",
        ),
        pytest.param(
            "INSERT INTO notes VALUES ('ALTER TABLE t ADD COLUMN x int');", None, [], id="text inside a literal"
        ),
        pytest.param(
            "ALTER TABLE t ADD COLUMN IF NOT EXISTS note text DEFAULT $$, ADD COLUMN z int$$;",
            None,
            [],
            id="DDL inside a dollar-quoted default",
        ),
        pytest.param(
            "ALTER TABLE t ADD COLUMN IF NOT EXISTS note text DEFAULT E'it\\'s, ADD COLUMN z int';",
            None,
            [],
            id="DDL inside an E string with an escaped quote",
        ),
        pytest.param(
            "ALTER TABLE t ADD COLUMN IF NOT EXISTS a int /* , ADD COLUMN b int */, ADD IF NOT EXISTS c int;",
            None,
            [],
            id="DDL inside a comment, ADD without COLUMN but IF NOT EXISTS",
        ),
        pytest.param(
            "ALTER TABLE t\n  ADD COLUMN IF NOT EXISTS a int,\n  ADD COLUMN b int,\n  ADD CONSTRAINT c CHECK (a > 0);",
            None,
            [(3, "add-column-if-not-exists"), (4, "constraint-refresh")],
            id="each action reported on its own line",
        ),
        pytest.param("ALTER VIEW v ALTER COLUMN a SET DEFAULT 1;", None, [], id="ALTER VIEW is not ALTER TABLE"),
        pytest.param("CREATE TABLE t AS SELECT 1 AS a;", None, [(1, "create-if-not-exists")], id="CREATE TABLE AS"),
        pytest.param("CREATE TABLE t (a int,);", None, [], id="syntax errors are left to the database run"),
        pytest.param(
            "CREATE TABLE IF NOT EXISTS bindings (id BIGSERIAL PRIMARY KEY, role TEXT NOT NULL CHECK (role IN "
            "('admin')), team TEXT);",
            RELEASED,
            [(1, "fresh-schema-only")],
            id="column new only inside CREATE TABLE",
        ),
        pytest.param(
            "CREATE TABLE IF NOT EXISTS bindings (\n  id BIGSERIAL PRIMARY KEY,\n  role TEXT NOT NULL CHECK (role IN "
            "('admin')),\n  team TEXT\n);",
            RELEASED,
            [(4, "fresh-schema-only")],
            id="the new column's own line",
        ),
        pytest.param(
            "CREATE TABLE IF NOT EXISTS bindings (id BIGSERIAL PRIMARY KEY, note TEXT DEFAULT $$)$$, role TEXT NOT "
            "NULL CHECK (role IN ('admin')), team TEXT);",
            RELEASED,
            [(1, "fresh-schema-only"), (1, "fresh-schema-only")],
            id="columns after a dollar-quoted parenthesis",
        ),
        pytest.param(
            "CREATE TABLE IF NOT EXISTS Public.Bindings (id BIGSERIAL PRIMARY KEY, role TEXT NOT NULL CHECK "
            "(((role IN ('admin'))))), created_by TEXT);",
            RELEASED,
            [],
            id="redundant parentheses and folded names are the same constraint",
        ),
        pytest.param(
            "CREATE TABLE IF NOT EXISTS bindings (id BIGSERIAL PRIMARY KEY, role TEXT NOT NULL CHECK (role IN "
            "('Admin')));",
            RELEASED,
            [(1, "constraint-refresh")],
            id="a changed literal is a changed constraint",
        ),
        pytest.param(
            "CREATE TABLE IF NOT EXISTS bindings (id BIGSERIAL PRIMARY KEY, role TEXT NOT NULL CHECK (role IN "
            "('admin')), team TEXT);\nALTER TABLE bindings ADD COLUMN IF NOT EXISTS team TEXT;",
            RELEASED,
            [],
            id="new column backfilled",
        ),
        pytest.param(
            "CREATE TABLE IF NOT EXISTS bindings (id BIGSERIAL PRIMARY KEY, role text not null check(role in "
            "('admin')), created_by TEXT);",
            RELEASED,
            [],
            id="column moved into CREATE TABLE, constraint reformatted",
        ),
        pytest.param(
            "CREATE TABLE IF NOT EXISTS bindings (id BIGSERIAL PRIMARY KEY, role TEXT NOT NULL CHECK (role IN "
            "('admin', 'auditor')));",
            RELEASED,
            [(1, "constraint-refresh")],
            id="inline check changed without refresh",
        ),
        pytest.param(
            "CREATE TABLE IF NOT EXISTS bindings (id BIGSERIAL PRIMARY KEY, role TEXT NOT NULL CHECK (role IN "
            "('admin', 'auditor')));\nALTER TABLE bindings DROP CONSTRAINT IF EXISTS bindings_role_check;\n"
            "ALTER TABLE bindings ADD CONSTRAINT bindings_role_check CHECK (role IN ('admin', 'auditor'));",
            RELEASED,
            [],
            id="inline check changed and refreshed",
        ),
        pytest.param(
            "CREATE TABLE IF NOT EXISTS bindings (id BIGSERIAL PRIMARY KEY, role TEXT NOT NULL CHECK (role IN "
            "('admin')), CONSTRAINT one_admin CHECK (id > 0));",
            RELEASED,
            [(1, "constraint-refresh")],
            id="new named table constraint on an existing table",
        ),
        pytest.param(
            "CREATE TABLE IF NOT EXISTS audit (id BIGSERIAL PRIMARY KEY, action TEXT CHECK (action <> ''));",
            RELEASED,
            [],
            id="a new table is created whole",
        ),
    ],
)
def test_lint_schema(candidate, released, expected):
    findings = lint_schema("db_schema_v1.sql", candidate, released)
    assert [(finding.line, finding.rule) for finding in findings] == expected
    assert all(finding.file == "db_schema_v1.sql" for finding in findings)


def test_lint_messages_name_the_object_and_the_fix():
    (finding,) = lint_schema(
        "db.sql",
        "CREATE TABLE IF NOT EXISTS bindings (id BIGSERIAL PRIMARY KEY, role TEXT, team TEXT);",
        "CREATE TABLE IF NOT EXISTS bindings (id BIGSERIAL PRIMARY KEY, role TEXT);",
    )
    assert str(finding) == (
        "db.sql:1: column bindings.team is new only inside CREATE TABLE bindings, which deployed databases skip; "
        "add ALTER TABLE bindings ADD COLUMN IF NOT EXISTS team ..."
    )
