"""Table-driven tests of GitLab's dotenv report format (pc_release.dotenv), against the rules of GitLab's
Ci::ParseDotenvArtifactService and doc/ci/variables/dotenv_variables.md."""

from __future__ import annotations

import pytest

from pc_release.dotenv import MAX_BYTES, MAX_VARIABLES, DotenvError, parse_dotenv, parse_dotenv_report


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("VERSION=1.2.3\n", {"VERSION": "1.2.3"}),
        ("VERSION=1.2.3", {"VERSION": "1.2.3"}),
        ("", {}),
        ("A=1\nB=two words\n", {"A": "1", "B": "two words"}),
        # Quotes are kept as written: the format has no quoting.
        ("QUOTED=\"x y\"\nSINGLE='z'\n", {"QUOTED": '"x y"', "SINGLE": "'z'"}),
        ("URL=http://h/?a=b\n", {"URL": "http://h/?a=b"}),
        ("  KEY  =  spaced  \r\n", {"KEY": "spaced"}),
        ("EMPTY=\n", {"EMPTY": ""}),
        ("1ST=digits first are fine\n", {"1ST": "digits first are fine"}),
        ("A=1\nA=2\n", {"A": "2"}),
        ("\ufeffBOM=stripped\n", {"BOM": "stripped"}),
        ("HASH=a#b\n", {"HASH": "a#b"}),
    ],
)
def test_valid_reports(text: str, expected: dict[str, str]) -> None:
    assert parse_dotenv(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("A=1\n\nB=2\n", "line 2: Invalid Format (an empty line"),
        ("A=1\n\n", "line 2: Invalid Format (an empty line"),
        ("# a comment\nA=1\n", "line 1: Invalid Format (not KEY=VALUE"),
        ("#A=1\n", "line 1: key '#A' can contain only letters, digits and '_'"),
        ("export A=1\n", "line 1: key 'export A' can contain only letters"),
        ("A-B=1\n", "key 'A-B'"),
        ("=value\n", "key ''"),
        ("not a pair\n", "line 1: Invalid Format"),
        ('MULTI="first\nsecond"\n', "line 2: Invalid Format"),
        ("K" * 256 + "=1\n", "at most 255"),
    ],
)
def test_reports_gitlab_rejects(text: str, problem: str) -> None:
    with pytest.raises(DotenvError) as caught:
        parse_dotenv(text)
    assert problem in str(caught.value)


def test_upload_limits() -> None:
    assert parse_dotenv_report(b"DIGEST=sha256:" + b"a" * 64 + b"\n") == {"DIGEST": "sha256:" + "a" * 64}
    with pytest.raises(DotenvError, match="Too Big"):
        parse_dotenv_report(b"A=" + b"x" * MAX_BYTES + b"\n")
    many = "".join(f"V{i}=x\n" for i in range(MAX_VARIABLES + 1)).encode()
    with pytest.raises(DotenvError, match=f"more than {MAX_VARIABLES} variables"):
        parse_dotenv_report(many)
    assert len(parse_dotenv_report(many.split(b"\n", 1)[1])) == MAX_VARIABLES
