"""The runtime matrix: the runtimes a bash script declares as `PLATFORM_CONTROL_RUNTIMES=( ... )`."""

from __future__ import annotations

import re
import shlex

RUNTIME_MATRIX_VARIABLE = "PLATFORM_CONTROL_RUNTIMES"
_RUNTIME_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


class RuntimeMatrixError(ValueError):
    """The runtime matrix script does not declare its runtimes in the shape pc-release reads."""


_MATRIX_ASSIGNMENT = re.compile(
    rf"^[ \t]*(?:(?:declare|typeset)[ \t]+-a[ \t]+|readonly[ \t]+(?:-a[ \t]+)?)?"
    rf"{RUNTIME_MATRIX_VARIABLE}(\+?)=\(",
    re.MULTILINE,
)


def parse_runtime_matrix(text: str) -> list[str]:
    """The runtimes declared by `PLATFORM_CONTROL_RUNTIMES=( ... )` in a bash runtime matrix script.

    Handles one-line and multi-line arrays, quoted names, comments (whole-line and trailing), `declare -a`,
    and `+=( ... )` appends; later plain assignments replace earlier ones, as in bash.
    """
    assignments = list(_MATRIX_ASSIGNMENT.finditer(text))
    if not assignments:
        raise RuntimeMatrixError(f"no {RUNTIME_MATRIX_VARIABLE}=( ... ) array found")
    runtimes: list[str] = []
    for assignment in assignments:
        names = _array_items(text[assignment.end() :])
        runtimes = [*runtimes, *names] if assignment.group(1) else names
    for name in runtimes:
        if not _RUNTIME_NAME.fullmatch(name):
            raise RuntimeMatrixError(f"{name!r} is not a runtime name (lower-case letters, digits, '-')")
    duplicates = sorted({name for name in runtimes if runtimes.count(name) > 1})
    if duplicates:
        raise RuntimeMatrixError(f"runtime listed twice: {', '.join(duplicates)}")
    if not runtimes:
        raise RuntimeMatrixError(f"{RUNTIME_MATRIX_VARIABLE} is empty")
    return runtimes


def _array_items(rest: str) -> list[str]:
    lexer = shlex.shlex(rest, posix=True, punctuation_chars="()")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    items: list[str] = []
    try:
        for token in lexer:
            if token == ")":
                return items
            if "$" in token or "(" in token:
                raise RuntimeMatrixError(f"{token!r}: runtimes must be literal names, not expansions")
            items.append(token)
    except RuntimeMatrixError:
        raise
    except ValueError as err:  # shlex: unbalanced quotes
        raise RuntimeMatrixError(f"unterminated {RUNTIME_MATRIX_VARIABLE} array: {err}") from err
    raise RuntimeMatrixError(f"unterminated {RUNTIME_MATRIX_VARIABLE} array: missing ')'")
