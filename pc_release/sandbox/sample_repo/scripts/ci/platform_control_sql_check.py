#!/usr/bin/env python3
"""Deploy jobs deploy-schema / deploy-seed: static safety checks of db_schema_v1.sql and scripts/seed.sql.

The pipeline has no database, so these checks enforce the rules that make the files safe to apply to an
existing deployed database: idempotent DDL, enum CHECKs refreshed rather than created inline, and seed
rows that skip duplicates and use only values the constraints allow.
"""

from __future__ import annotations

import re
import sys

from platform_control_ci import ROOT, fail

SCHEMA = ROOT / "db_schema_v1.sql"
SEED = ROOT / "scripts" / "seed.sql"


def statements(sql: str) -> list[str]:
    without_comments = re.sub(r"--[^\n]*", "", sql)
    return [" ".join(s.split()) for s in without_comments.split(";") if s.strip()]


def schema_problems(sql: str) -> list[str]:
    problems, dropped = [], set()
    for statement in statements(sql):
        upper = statement.upper()
        head = statement[:70]
        if re.match(r"CREATE (UNIQUE )?INDEX (?!IF NOT EXISTS)", upper):
            problems.append(f"{head}…: CREATE INDEX needs IF NOT EXISTS")
        if upper.startswith("CREATE TABLE"):
            if not upper.startswith("CREATE TABLE IF NOT EXISTS"):
                problems.append(f"{head}…: CREATE TABLE needs IF NOT EXISTS")
            if " CHECK " in f" {upper} " or "CHECK(" in upper:
                problems.append(
                    f"{head}…: an inline CHECK never reaches existing databases; add it with "
                    "ALTER TABLE … DROP CONSTRAINT IF EXISTS + ADD CONSTRAINT"
                )
        if re.search(r"\bDROP TABLE\b|\bDROP COLUMN\b|\bTRUNCATE\b", upper):
            problems.append(f"{head}…: destructive statement in the deploy schema")
        for column in re.findall(r"ADD COLUMN (?!IF NOT EXISTS)(\w+)", upper):
            problems.append(f"{head}…: ADD COLUMN {column.lower()} needs IF NOT EXISTS to backfill existing databases")
        dropped.update(re.findall(r"DROP CONSTRAINT IF EXISTS (\w+)", statement, re.IGNORECASE))
        for name in re.findall(r"ADD CONSTRAINT (\w+)", statement, re.IGNORECASE):
            if name not in dropped:
                problems.append(f"ADD CONSTRAINT {name} is not preceded by DROP CONSTRAINT IF EXISTS {name}")
    return problems


def allowed_values(sql: str) -> dict[tuple[str, str], set[str]]:
    """(table, column) -> values its `CHECK (column IN (...))` constraint allows."""
    allowed = {}
    pattern = r"ALTER TABLE (?:IF EXISTS )?(\w+) ADD CONSTRAINT \w+ CHECK \((\w+) IN \(([^)]*)\)\)"
    for statement in statements(sql):
        for table, column, values in re.findall(pattern, statement, re.IGNORECASE):
            allowed[(table, column)] = set(re.findall(r"'((?:[^']|'')*)'", values))
    return allowed


def tuples(values_sql: str) -> list[list[str]]:
    """The rows of a VALUES list, each as its raw comma-separated items."""
    rows, row, item, depth, quoted = [], [], "", 0, False
    for char in values_sql:
        if char == "'":
            quoted = not quoted
        if not quoted and char == "(":
            depth += 1
            if depth == 1:
                continue
        if not quoted and char == ")":
            depth -= 1
            if depth == 0:
                rows.append([*row, item.strip()])
                row, item = [], ""
                continue
        if depth >= 1:
            if not quoted and depth == 1 and char == ",":
                row.append(item.strip())
                item = ""
            else:
                item += char
    return rows


def seed_problems(seed_sql: str, schema_sql: str) -> list[str]:
    problems, allowed = [], allowed_values(schema_sql)
    insert = re.compile(r"INSERT INTO (\w+) \(([^)]*)\) VALUES (.*?)(?: ON CONFLICT (.*))?$", re.IGNORECASE)
    for statement in statements(seed_sql):
        match = insert.match(statement)
        if not match:
            problems.append(f"{statement[:70]}…: only INSERT … VALUES … ON CONFLICT statements belong in the seed")
            continue
        table, columns, values, conflict = match.groups()
        if conflict is None:
            problems.append(f"INSERT INTO {table}: needs ON CONFLICT so re-running the seed is safe")
        names = [c.strip() for c in columns.split(",")]
        for row in tuples(values):
            for column, raw in zip(names, row, strict=False):
                permitted = allowed.get((table, column))
                value = raw.strip("'")
                if permitted is not None and value not in permitted:
                    problems.append(
                        f"INSERT INTO {table}: {column} {raw} is not allowed by the schema's CHECK "
                        f"({', '.join(sorted(permitted))}); extend the constraint in db_schema_v1.sql first"
                    )
    return problems


def main() -> int:
    if sys.argv[1:] == ["schema"]:
        problems = schema_problems(SCHEMA.read_text())
        checked = f"db_schema_v1.sql: {len(statements(SCHEMA.read_text()))} statements idempotent"
    elif sys.argv[1:] == ["seed"]:
        problems = seed_problems(SEED.read_text(), SCHEMA.read_text())
        checked = "scripts/seed.sql: every insert skips duplicates and uses values the schema allows"
    else:
        fail("usage: platform_control_sql_check.py schema|seed")
    if problems:
        fail("\n  ".join(["SQL is not safe for existing databases:", *problems]))
    print(checked)
    return 0


if __name__ == "__main__":
    sys.exit(main())
