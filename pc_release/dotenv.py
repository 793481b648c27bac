"""GitLab's dotenv report format, read exactly as GitLab reads it (Ci::ParseDotenvArtifactService and the
"Dotenv file requirements" of doc/ci/variables/dotenv_variables.md), for the sandbox runner and pc-release alike.

Every line is `KEY=VALUE`, split at the first `=`, both sides stripped of surrounding whitespace. Quotes are
kept as written (the format has no quoting or escaping), a key holds only ASCII letters, digits and `_`, and a
blank line, a comment or any line without `=` makes the whole file invalid. The last value of a key wins.
"""

from __future__ import annotations

import re

# GitLab's default limits: the file size, and the variables a job may pass on (self-managed default).
MAX_BYTES = 5 * 1024
MAX_VARIABLES = 20
MAX_KEY_LENGTH = 255

_LINE = re.compile(r"(.*?)=(.*)")  # `.` stops at a newline only, as in Ruby
_KEY = re.compile(r"[A-Za-z0-9_]+")
# Ruby's String#strip: NUL and ASCII whitespace, nothing else.
_RUBY_WHITESPACE = "\0\t\n\v\f\r "


class DotenvError(ValueError):
    """The file is not a dotenv report GitLab accepts; the message names the line and the rule it breaks."""


def parse_dotenv(text: str) -> dict[str, str]:
    """The variables of a dotenv report; raises DotenvError where GitLab would reject the file."""
    values: dict[str, str] = {}
    lines = text.removeprefix("\ufeff").split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline ending the last line does not start another one
    for number, line in enumerate(lines, start=1):
        match = _LINE.fullmatch(line)
        if match is None:
            what = "an empty line" if not line.strip(_RUBY_WHITESPACE) else "not KEY=VALUE"
            raise DotenvError(f"line {number}: Invalid Format ({what}; blank lines and comments are not allowed)")
        key, value = (part.strip(_RUBY_WHITESPACE) for part in match.groups())
        if not _KEY.fullmatch(key) or len(key) > MAX_KEY_LENGTH:
            raise DotenvError(
                f"line {number}: key {key!r} can contain only letters, digits and '_' (at most {MAX_KEY_LENGTH})"
            )
        values[key] = value
    return values


def parse_dotenv_report(content: bytes) -> dict[str, str]:
    """A dotenv report as GitLab accepts it on upload: within its size and variable limits, UTF-8 decoded."""
    if len(content) >= MAX_BYTES:
        raise DotenvError(f"Dotenv Artifact Too Big. Maximum Allowable Size: {MAX_BYTES} bytes")
    values = parse_dotenv(content.decode("utf-8", errors="replace"))
    if len(values) > MAX_VARIABLES:
        raise DotenvError(f"Dotenv files cannot have more than {MAX_VARIABLES} variables")
    return values
