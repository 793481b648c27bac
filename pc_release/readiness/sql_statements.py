"""A PostgreSQL file cut into the statements PostgreSQL is sent, each with the file line it starts on.

PostgreSQL's own grammar (pglast) finds the statements when the file parses, so bodies psql's lexer alone cannot
delimit (`BEGIN ATOMIC ... END`) stay whole; a file the grammar refuses is cut lexically, as psql does, so the
database can still report where the broken statement is."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from pglast import parse_sql
from pglast.parser import ParseError

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_$]")


@dataclass(frozen=True)
class SqlStatement:
    """One statement: `text` exactly as in the file (what PostgreSQL gets), `line` where it starts,
    `code` with comments removed and whitespace collapsed (what a message quotes)."""

    text: str
    line: int
    code: str

    def line_of(self, position: int | None) -> int:
        """The file line of a 1-based character position in `text` (PostgreSQL's error position)."""
        if not position:
            return self.line
        return self.line + self.text[: position - 1].count("\n")


def split_statements(sql: str) -> list[SqlStatement]:
    newlines = [index for index, char in enumerate(sql) if char == "\n"]
    statements = []
    for start, end in _grammar_spans(sql) or _lexical_spans(sql):
        text = sql[start:end].rstrip()
        if text:
            line = bisect.bisect_right(newlines, start - 1) + 1
            statements.append(SqlStatement(text=text, line=line, code=without_comments(text)))
    return statements


def _grammar_spans(sql: str) -> list[tuple[int, int]] | None:
    """(start, end) character offsets of each statement as PostgreSQL's parser delimits it; None if it refuses."""
    try:
        raws = parse_sql(sql)
    except ParseError:
        return None
    # stmt_len 0 means "to the end of the input" (a last statement without a semicolon).
    return [(raw.stmt_location, raw.stmt_location + raw.stmt_len if raw.stmt_len else len(sql)) for raw in raws]


def _lexical_spans(sql: str) -> list[tuple[int, int]]:
    """Cut on top-level semicolons, honouring comments (nested /* */ too), quoted strings, E'' escapes,
    quoted identifiers and dollar quoting, as psql does. Each span starts at its first token."""
    spans: list[tuple[int, int]] = []
    start: int | None = None
    index, length = 0, len(sql)
    while index < length:
        char = sql[index]
        if sql.startswith("--", index) or sql.startswith("/*", index):
            index = _comment_end(sql, index)
            continue
        if char == ";":
            if start is not None:
                spans.append((start, index))
            start = None
            index += 1
            continue
        if char.isspace():
            index += 1
            continue
        if start is None:
            start = index
        index = _literal_end(sql, index) or index + 1
    if start is not None:
        spans.append((start, length))
    return spans


def without_comments(text: str) -> str:
    """The statement with comments removed and whitespace collapsed; literals kept as written."""
    out: list[str] = []
    index = 0
    while index < len(text):
        if text.startswith("--", index) or text.startswith("/*", index):
            index = _comment_end(text, index)
            out.append(" ")
            continue
        end = _literal_end(text, index) or index + 1
        out.append(text[index:end])
        index = end
    return " ".join("".join(out).split())


def _comment_end(sql: str, index: int) -> int:
    if sql.startswith("--", index):
        end = sql.find("\n", index)
        return len(sql) if end < 0 else end
    depth = 0
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
        escapes = previous != "" and previous in "eE" and (index < 2 or not _IDENT_CHAR.match(sql[index - 2]))
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
