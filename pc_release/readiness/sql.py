"""PostgreSQL files split into located statements, and the static lint of schema changes that only work on a
fresh database (the policy's "fresh-schema-only" and "constraint not refreshed" failure classes)."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from pc_release.readiness.models import Finding

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_$]")


@dataclass(frozen=True)
class SqlStatement:
    """One statement: `text` exactly as in the file (what PostgreSQL gets), `line` where it starts,
    `code` with comments removed and whitespace collapsed, `shape` like `code` with literals emptied."""

    text: str
    line: int
    code: str
    shape: str

    def line_of(self, position: int | None) -> int:
        """The file line of a 1-based character position in `text` (PostgreSQL's error position)."""
        if not position:
            return self.line
        return self.line + self.text[: position - 1].count("\n")


def split_statements(sql: str) -> list[SqlStatement]:
    """Split on top-level semicolons, honouring comments (nested /* */ too), quoted strings, E'' escapes,
    quoted identifiers and dollar quoting, as psql does."""
    newlines = [index for index, char in enumerate(sql) if char == "\n"]
    statements: list[SqlStatement] = []
    start: int | None = None
    code: list[str] = []
    shape: list[str] = []
    index, length = 0, len(sql)

    def emit(end: int) -> None:
        nonlocal start
        if start is not None:
            statements.append(
                SqlStatement(
                    text=sql[start:end].rstrip(),
                    line=bisect.bisect_right(newlines, start - 1) + 1,
                    code=" ".join("".join(code).split()),
                    shape=" ".join("".join(shape).split()),
                )
            )
        start = None
        code.clear()
        shape.clear()

    while index < length:
        char = sql[index]
        if sql.startswith("--", index):
            end = sql.find("\n", index)
            index = length if end < 0 else end
            code.append(" ")
            shape.append(" ")
            continue
        if sql.startswith("/*", index):
            index = _block_comment_end(sql, index)
            code.append(" ")
            shape.append(" ")
            continue
        if char == ";":
            emit(index)
            index += 1
            continue
        if char.isspace():
            code.append(char)
            shape.append(char)
            index += 1
            continue
        if start is None:
            start = index
        end = _literal_end(sql, index)
        if end is not None:
            literal = sql[index:end]
            code.append(literal)
            # Quoted identifiers are names the lint reads; strings and dollar bodies are data it must not.
            shape.append(literal if char == '"' else "''")
            index = end
            continue
        code.append(char)
        shape.append(char)
        index += 1
    emit(length)
    return statements


def _block_comment_end(sql: str, index: int) -> int:
    depth, index = 0, index
    while index < len(sql):
        if sql.startswith("/*", index):
            depth += 1
            index += 2
        elif sql.startswith("*/", index):
            depth -= 1
            index += 2
            if depth == 0:
                return index
        else:
            index += 1
    return len(sql)


def _literal_end(sql: str, index: int) -> int | None:
    """End (exclusive) of the quoted string, identifier or dollar-quoted body starting at `index`."""
    char = sql[index]
    previous = sql[index - 1] if index else ""
    if char == "'":
        escapes = previous in "eE" and (index < 2 or not _IDENT_CHAR.match(sql[index - 2]))
        return _quoted_end(sql, index, "'", backslash=escapes)
    if char == '"':
        return _quoted_end(sql, index, '"', backslash=False)
    if char == "$" and not (previous and _IDENT_CHAR.match(previous)):
        tag = _DOLLAR_TAG.match(sql, index)
        if tag:
            close = sql.find(tag.group(0), tag.end())
            return len(sql) if close < 0 else close + len(tag.group(0))
    return None


def _quoted_end(sql: str, index: int, quote: str, *, backslash: bool) -> int:
    index += 1
    while index < len(sql):
        char = sql[index]
        if backslash and char == "\\":
            index += 2
            continue
        if char == quote:
            if sql.startswith(quote * 2, index):
                index += 2
                continue
            return index + 1
        index += 1
    return len(sql)


# --- the lint ---------------------------------------------------------------------------------------------

_NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)(?:\s*\.\s*(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*))*'
_CREATE_TABLE = re.compile(
    rf"^CREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?(?P<temp>TEMP(?:ORARY)?\s+)?(?:UNLOGGED\s+)?TABLE\s+"
    rf"(?P<ine>IF\s+NOT\s+EXISTS\s+)?(?P<name>{_NAME})",
    re.IGNORECASE,
)
_CREATE_INDEX = re.compile(
    rf"^CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(?P<ine>IF\s+NOT\s+EXISTS\s+)?"
    rf"(?:(?P<name>{_NAME})\s+)?ON\s",
    re.IGNORECASE,
)
_ALTER_TABLE = re.compile(
    rf"^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?(?P<name>{_NAME})\s+(?P<actions>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_ADD_CONSTRAINT = re.compile(rf"^ADD\s+CONSTRAINT\s+(?P<name>{_NAME})\s+(?P<definition>.*)$", re.I | re.S)
_DROP_CONSTRAINT = re.compile(rf"^DROP\s+CONSTRAINT\s+(?P<ie>IF\s+EXISTS\s+)?(?P<name>{_NAME})", re.I)
_ADD_COLUMN = re.compile(
    rf"^ADD\s+(?:COLUMN\s+)?(?P<ine>IF\s+NOT\s+EXISTS\s+)?(?P<name>{_NAME})",
    re.IGNORECASE,
)
_TABLE_CONSTRAINT_WORDS = ("CONSTRAINT", "CHECK", "PRIMARY", "UNIQUE", "FOREIGN", "EXCLUDE", "LIKE")
_COLUMN_CHECK = re.compile(r"(?:\bCONSTRAINT\s+(?P<name>" + _NAME + r")\s+)?\bCHECK\s*\(", re.IGNORECASE)


def identifier(name: str) -> str:
    """The unqualified object name as PostgreSQL stores it (unquoted names fold to lower case)."""
    last = re.split(r'\s*\.\s*(?=(?:[^"]*"[^"]*")*[^"]*$)', name.strip())[-1]
    if last.startswith('"') and last.endswith('"'):
        return last[1:-1].replace('""', '"')
    return last.lower()


def normalize_expression(code: str) -> str:
    """Compare constraint definitions ignoring keyword case and spacing, but never string literal content."""
    parts = re.split(r"('(?:[^']|'')*')", code)
    out = []
    for index, part in enumerate(parts):
        if index % 2:
            out.append(part)
        else:
            out.append(re.sub(r"\s*([(),=<>:])\s*", r"\1", " ".join(part.split())).upper())
    return "".join(out).strip()


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """Split on `separator` outside parentheses and quotes."""
    parts, depth, current, quote = [], 0, [], ""
    for char in text:
        if quote:
            current.append(char)
            if char == quote:
                quote = ""
            continue
        if char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def _parenthesized(text: str, open_index: int) -> str:
    """The text inside the parentheses opening at `open_index` (quotes respected)."""
    depth, quote = 0, ""
    for index in range(open_index, len(text)):
        char = text[index]
        if quote:
            if char == quote:
                quote = ""
            continue
        if char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return text[open_index + 1 : index]
    return text[open_index + 1 :]


@dataclass
class _Table:
    line: int
    columns: dict[str, int] = field(default_factory=dict)
    # constraint name -> normalized definition, as CREATE TABLE declares them inline
    inline_constraints: dict[str, str] = field(default_factory=dict)


@dataclass
class SchemaModel:
    """What a schema file creates, table by table, as far as the lint needs it."""

    tables: dict[str, _Table] = field(default_factory=dict)
    added_columns: dict[str, set[str]] = field(default_factory=dict)
    # (table, constraint) -> normalized definition of every ADD CONSTRAINT
    added_constraints: dict[tuple[str, str], str] = field(default_factory=dict)
    # (table, constraint) re-created after DROP CONSTRAINT IF EXISTS: refreshed on every deploy
    refreshed: set[tuple[str, str]] = field(default_factory=set)

    def columns(self, table: str) -> set[str]:
        created = set(self.tables[table].columns) if table in self.tables else set()
        return created | self.added_columns.get(table, set())

    def constraint(self, table: str, name: str) -> str | None:
        inline = self.tables.get(table)
        if inline is not None and name in inline.inline_constraints:
            return inline.inline_constraints[name]
        return self.added_constraints.get((table, name))


def _create_table_body(statement: SqlStatement, match: re.Match[str]) -> tuple[list[str], list[str]]:
    """(element code, element shape) of a CREATE TABLE's column/constraint list; empty for CREATE TABLE AS."""
    open_shape = statement.shape.find("(", match.end())
    if open_shape < 0 or statement.shape[match.end() : open_shape].strip():
        return [], []
    open_code = statement.code.find("(", match.end())
    return (
        split_top_level(_parenthesized(statement.code, open_code)),
        split_top_level(_parenthesized(statement.shape, open_shape)),
    )


def _inline_constraints(table: str, elements: list[str]) -> tuple[dict[str, int], dict[str, str]]:
    columns: dict[str, int] = {}
    constraints: dict[str, str] = {}
    for position, element in enumerate(elements):
        first = element.split(None, 1)[0].upper() if element.split() else ""
        if first in _TABLE_CONSTRAINT_WORDS:
            named = re.match(rf"CONSTRAINT\s+({_NAME})\s+(.*)$", element, re.I | re.S)
            if named:
                constraints[identifier(named.group(1))] = normalize_expression(named.group(2))
            elif first == "CHECK":
                constraints[f"{table}_check#{position}"] = normalize_expression(element)
            continue
        column_match = re.match(_NAME, element)
        if column_match is None:
            continue
        column = identifier(column_match.group(0))
        columns[column] = position
        for check in _COLUMN_CHECK.finditer(element):
            body = _parenthesized(element, check.end() - 1)
            name = identifier(check.group("name")) if check.group("name") else f"{table}_{column}_check"
            constraints[name] = normalize_expression(f"CHECK ({body})")
    return columns, constraints


def schema_model(statements: Iterable[SqlStatement]) -> SchemaModel:
    model = SchemaModel()
    dropped: set[tuple[str, str]] = set()
    for statement in statements:
        create = _CREATE_TABLE.match(statement.shape)
        if create and not create.group("temp"):
            table = identifier(create.group("name"))
            code_elements, _ = _create_table_body(statement, create)
            columns, constraints = _inline_constraints(table, code_elements)
            model.tables.setdefault(table, _Table(line=statement.line, columns=columns, inline_constraints=constraints))
            continue
        alter = _ALTER_TABLE.match(statement.code)
        if not alter:
            continue
        table = identifier(alter.group("name"))
        for action in split_top_level(alter.group("actions")):
            if drop := _DROP_CONSTRAINT.match(action):
                if drop.group("ie"):
                    dropped.add((table, identifier(drop.group("name"))))
            elif add := _ADD_CONSTRAINT.match(action):
                key = (table, identifier(add.group("name")))
                model.added_constraints[key] = normalize_expression(add.group("definition"))
                if key in dropped:
                    model.refreshed.add(key)
            elif (column := _ADD_COLUMN.match(action)) and not _is_constraint_action(action):
                model.added_columns.setdefault(table, set()).add(identifier(column.group("name")))
    return model


def _is_constraint_action(action: str) -> bool:
    words = action.split()
    return len(words) > 1 and words[1].upper() in _TABLE_CONSTRAINT_WORDS


def lint_schema(path: str, candidate_sql: str, released_sql: str | None = None) -> list[Finding]:
    """Statements that work on a fresh database but not on a deployed one, or not twice.

    Without the released schema only the per-statement rules apply; with it, columns and constraints that
    changed only inside `CREATE TABLE` (which existing databases skip) are flagged too.
    """
    statements = split_statements(candidate_sql)
    findings = _statement_findings(path, statements)
    if released_sql is not None:
        findings += _fresh_only_findings(path, schema_model(statements), schema_model(split_statements(released_sql)))
    return sorted(findings, key=lambda finding: (finding.line or 0, finding.rule))


def _statement_findings(path: str, statements: list[SqlStatement]) -> list[Finding]:
    findings: list[Finding] = []
    dropped: set[tuple[str, str]] = set()
    for statement in statements:
        if (create := _CREATE_TABLE.match(statement.shape)) and not create.group("temp"):
            if not create.group("ine"):
                table = identifier(create.group("name"))
                findings.append(
                    Finding(
                        file=path,
                        line=statement.line,
                        rule="create-if-not-exists",
                        message=f"CREATE TABLE {table} without IF NOT EXISTS fails on every deployed database",
                    )
                )
            continue
        if index := _CREATE_INDEX.match(statement.shape):
            if not index.group("name"):
                findings.append(
                    Finding(
                        file=path,
                        line=statement.line,
                        rule="create-if-not-exists",
                        message="unnamed CREATE INDEX adds another copy of the index on every deploy; name it "
                        "and use IF NOT EXISTS",
                    )
                )
            elif not index.group("ine"):
                findings.append(
                    Finding(
                        file=path,
                        line=statement.line,
                        rule="create-if-not-exists",
                        message=f"CREATE INDEX {identifier(index.group('name'))} without IF NOT EXISTS fails on "
                        "every deployed database",
                    )
                )
            continue
        alter = _ALTER_TABLE.match(statement.code)
        if not alter:
            continue
        table = identifier(alter.group("name"))
        for action in split_top_level(alter.group("actions")):
            findings += _action_findings(path, statement, table, action, dropped)
    return findings


def _action_findings(
    path: str, statement: SqlStatement, table: str, action: str, dropped: set[tuple[str, str]]
) -> list[Finding]:
    if drop := _DROP_CONSTRAINT.match(action):
        if drop.group("ie"):
            dropped.add((table, identifier(drop.group("name"))))
        return []
    if add := _ADD_CONSTRAINT.match(action):
        name = identifier(add.group("name"))
        if (table, name) in dropped:
            return []
        return [
            Finding(
                file=path,
                line=statement.line,
                rule="constraint-refresh",
                message=f"ALTER TABLE {table} ADD CONSTRAINT {name} is not preceded by DROP CONSTRAINT IF EXISTS "
                f"{name}: it fails where the constraint exists and never refreshes a changed definition",
            )
        ]
    column = _ADD_COLUMN.match(action)
    if column and not _is_constraint_action(action) and not column.group("ine"):
        name = identifier(column.group("name"))
        return [
            Finding(
                file=path,
                line=statement.line,
                rule="add-column-if-not-exists",
                message=f"ALTER TABLE {table} ADD COLUMN {name} without IF NOT EXISTS fails the second time the "
                "schema is applied",
            )
        ]
    return []


def _fresh_only_findings(path: str, candidate: SchemaModel, released: SchemaModel) -> list[Finding]:
    findings: list[Finding] = []
    for table, created in candidate.tables.items():
        if table not in released.tables and table not in released.added_columns:
            continue
        old_columns = released.columns(table)
        for column in created.columns:
            if column not in old_columns and column not in candidate.added_columns.get(table, set()):
                findings.append(
                    Finding(
                        file=path,
                        line=created.line,
                        rule="fresh-schema-only",
                        message=f"column {table}.{column} is new only inside CREATE TABLE {table}, which deployed "
                        f"databases skip; add ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} ...",
                    )
                )
        for name, definition in created.inline_constraints.items():
            if released.constraint(table, name) == definition or (table, name) in candidate.refreshed:
                continue
            shown = name if "#" not in name else f"an unnamed CHECK of {table}"
            findings.append(
                Finding(
                    file=path,
                    line=created.line,
                    rule="constraint-refresh",
                    message=f"constraint {shown} changed only inside CREATE TABLE {table}: deployed databases keep "
                    f"the old definition; refresh it with ALTER TABLE {table} DROP CONSTRAINT IF EXISTS ... + "
                    "ADD CONSTRAINT ...",
                )
            )
    return findings
