"""`rules:if` and `only:variables` expressions, evaluated the way GitLab does: `$VAR` (undefined is null),
strings, `null`, regex literals, `==`/`!=`/`=~`/`!~`, `&&` binding tighter than `||`, parentheses."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pc_release.ci.errors import CiConfigError

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lparen>\() | (?P<rparen>\)) | (?P<and>&&) | (?P<or>\|\|)
      | (?P<op>==|!=|=~|!~)
      | \$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\} | \$(?P<var>[A-Za-z_][A-Za-z0-9_]*)
      | "(?P<dq>(?:[^"\\]|\\.)*)" | '(?P<sq>(?:[^'\\]|\\.)*)'
      | (?P<regex>/(?:[^/\\]|\\.)*/[a-z]*)
      | (?P<null>null)\b
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokenize(expression: str) -> list[_Token]:
    tokens = []
    position = 0
    expression = expression.strip()
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None or match.end() == position:
            raise CiConfigError(f"invalid expression syntax: {expression!r}")
        kind = match.lastgroup or ""
        text = match.group(kind)
        if kind == "braced":
            kind = "var"
        elif kind in ("dq", "sq"):
            kind, text = "string", re.sub(r"\\(.)", r"\1", text)
        tokens.append(_Token(kind, text))
        position = match.end()
        while position < len(expression) and expression[position].isspace():
            position += 1
    return tokens


def parse_regex_literal(text: str | None) -> re.Pattern[str] | None:
    """`/pattern/flags` in Ruby/RE2 style; None if `text` is not one."""
    if text is None:
        return None
    match = re.fullmatch(r"/(.*)/([a-z]*)", text, re.DOTALL)
    if match is None:
        return None
    flags = 0
    for flag in match.group(2):
        flags |= {"i": re.IGNORECASE, "m": re.DOTALL, "x": re.VERBOSE}.get(flag, 0)
    try:
        return re.compile(match.group(1).replace(r"\z", r"\Z"), flags)
    except re.error as err:
        raise CiConfigError(f"invalid regular expression {text!r}: {err}") from err


class _Parser:
    """Recursive descent over GitLab's grammar: `||` binds looser than `&&`; comparisons are binary."""

    def __init__(self, tokens: list[_Token], scope: Mapping[str, str], source: str) -> None:
        self.tokens = tokens
        self.index = 0
        self.scope = scope
        self.source = source

    def parse(self) -> bool:
        result = self.or_expression()
        if self.index != len(self.tokens):
            raise CiConfigError(f"invalid expression syntax: {self.source!r}")
        return result

    def peek(self) -> str | None:
        return self.tokens[self.index].kind if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        if self.index >= len(self.tokens):
            raise CiConfigError(f"invalid expression syntax: {self.source!r}")
        token = self.tokens[self.index]
        self.index += 1
        return token

    def or_expression(self) -> bool:
        result = self.and_expression()
        while self.peek() == "or":
            self.take()
            right = self.and_expression()
            result = result or right
        return result

    def and_expression(self) -> bool:
        result = self.primary()
        while self.peek() == "and":
            self.take()
            right = self.primary()
            result = result and right
        return result

    def primary(self) -> bool:
        if self.peek() == "lparen":
            self.take()
            result = self.or_expression()
            if self.take().kind != "rparen":
                raise CiConfigError(f"invalid expression syntax: {self.source!r}")
            return result
        left = self.operand()
        if self.peek() != "op":
            return bool(left) if not isinstance(left, re.Pattern) else True
        operator = self.take().text
        right = self.operand()
        if operator in ("==", "!="):
            equal = (None if isinstance(left, re.Pattern) else left) == (
                None if isinstance(right, re.Pattern) else right
            )
            return equal if operator == "==" else not equal
        pattern = right if isinstance(right, re.Pattern) else parse_regex_literal(right)
        if pattern is None:
            raise CiConfigError(f"invalid expression syntax: {self.source!r} (right of {operator} is not a regex)")
        matched = isinstance(left, str) and pattern.search(left) is not None
        return matched if operator == "=~" else not matched

    def operand(self) -> str | re.Pattern[str] | None:
        token = self.take()
        if token.kind == "var":
            return self.scope.get(token.text)
        if token.kind == "string":
            return token.text
        if token.kind == "null":
            return None
        if token.kind == "regex":
            return parse_regex_literal(token.text)
        raise CiConfigError(f"invalid expression syntax: {self.source!r}")


def evaluate_expression(expression: str, variables: Mapping[str, str]) -> bool:
    """Evaluate a `rules:if` / `only:variables` expression against variables (undefined = null)."""
    return _Parser(_tokenize(expression), variables, expression).parse()
