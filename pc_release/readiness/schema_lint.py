"""The static lint of schema changes that only work on a fresh database (the policy's "fresh-schema-only" and
"constraint not refreshed" failure classes), judged on PostgreSQL's parse trees and located to the line of the
column or constraint at fault."""

from __future__ import annotations

from pglast import ast
from pglast.enums import AlterTableType, ObjectType

from pc_release.readiness.models import Finding
from pc_release.readiness.schema_model import (
    Parsed,
    SchemaModel,
    is_alter_table,
    is_temporary,
    parsed_statements,
    schema_model,
)
from pc_release.readiness.sql_statements import split_statements


def lint_schema(path: str, candidate_sql: str, released_sql: str | None = None) -> list[Finding]:
    """Statements that work on a fresh database but not on a deployed one, or not twice.

    Without the released schema only the per-statement rules apply; with it, columns and constraints that
    changed only inside `CREATE TABLE` (which existing databases skip) are flagged too. A statement PostgreSQL's
    grammar refuses is not judged here: the database run reports it.
    """
    statements = split_statements(candidate_sql)
    findings = _statement_findings(path, list(parsed_statements(statements)))
    if released_sql is not None:
        findings += _fresh_only_findings(path, schema_model(statements), schema_model(split_statements(released_sql)))
    return sorted(findings, key=lambda finding: (finding.line or 0, finding.rule))


def _statement_findings(path: str, statements: list[Parsed]) -> list[Finding]:
    findings: list[Finding] = []
    dropped: set[tuple[str, str]] = set()
    for parsed in statements:
        node = parsed.node
        if isinstance(node, ast.CreateStmt) and not is_temporary(node.relation):
            if not node.if_not_exists:
                findings.append(_not_idempotent(path, parsed.statement.line, f"CREATE TABLE {node.relation.relname}"))
        elif (
            isinstance(node, ast.CreateTableAsStmt)
            and node.objtype == ObjectType.OBJECT_TABLE
            and not is_temporary(node.into.rel)
            and not node.if_not_exists
        ):
            findings.append(_not_idempotent(path, parsed.statement.line, f"CREATE TABLE {node.into.rel.relname}"))
        elif isinstance(node, ast.IndexStmt):
            if not node.idxname:
                findings.append(
                    Finding(
                        file=path,
                        line=parsed.statement.line,
                        rule="create-if-not-exists",
                        message="unnamed CREATE INDEX adds another copy of the index on every deploy; name it "
                        "and use IF NOT EXISTS",
                    )
                )
            elif not node.if_not_exists:
                findings.append(_not_idempotent(path, parsed.statement.line, f"CREATE INDEX {node.idxname}"))
        elif is_alter_table(node):
            for command in node.cmds or ():
                findings += _command_findings(path, parsed, node.relation.relname, command, dropped)
    return findings


def _not_idempotent(path: str, line: int, what: str) -> Finding:
    return Finding(
        file=path,
        line=line,
        rule="create-if-not-exists",
        message=f"{what} without IF NOT EXISTS fails on every deployed database",
    )


def _command_findings(
    path: str, parsed: Parsed, table: str, command: ast.AlterTableCmd, dropped: set[tuple[str, str]]
) -> list[Finding]:
    if command.subtype == AlterTableType.AT_DropConstraint:
        if command.missing_ok:
            dropped.add((table, command.name))
        return []
    if command.subtype == AlterTableType.AT_AddConstraint:
        name = command.def_.conname
        if name and (table, name) in dropped:
            return []
        message = (
            f"ALTER TABLE {table} ADD CONSTRAINT {name} is not preceded by DROP CONSTRAINT IF EXISTS {name}: it "
            "fails where the constraint exists and never refreshes a changed definition"
            if name
            else f"ALTER TABLE {table} adds an unnamed constraint: every deploy adds it again or fails; name it and "
            "precede it with DROP CONSTRAINT IF EXISTS"
        )
        return [Finding(file=path, line=parsed.line_at(command.def_), rule="constraint-refresh", message=message)]
    if command.subtype == AlterTableType.AT_AddColumn and not command.missing_ok:
        return [
            Finding(
                file=path,
                line=parsed.line_at(command.def_),
                rule="add-column-if-not-exists",
                message=f"ALTER TABLE {table} ADD COLUMN {command.def_.colname} without IF NOT EXISTS fails the "
                "second time the schema is applied",
            )
        ]
    return []


def _fresh_only_findings(path: str, candidate: SchemaModel, released: SchemaModel) -> list[Finding]:
    findings: list[Finding] = []
    for table, created in candidate.tables.items():
        if table not in released.tables and table not in released.added_columns:
            continue
        old_columns = released.columns(table)
        for column, line in created.columns.items():
            if column not in old_columns and column not in candidate.added_columns.get(table, set()):
                findings.append(
                    Finding(
                        file=path,
                        line=line,
                        rule="fresh-schema-only",
                        message=f"column {table}.{column} is new only inside CREATE TABLE {table}, which deployed "
                        f"databases skip; add ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} ...",
                    )
                )
        for name, (constraint, line) in created.inline_constraints.items():
            if released.constraint(table, name) == constraint or (table, name) in candidate.refreshed:
                continue
            shown = name if "#" not in name else f"an unnamed CHECK of {table}"
            findings.append(
                Finding(
                    file=path,
                    line=line,
                    rule="constraint-refresh",
                    message=f"constraint {shown} changed only inside CREATE TABLE {table}: deployed databases keep "
                    f"the old definition; refresh it with ALTER TABLE {table} DROP CONSTRAINT IF EXISTS ... + "
                    "ADD CONSTRAINT ...",
                )
            )
    return findings
