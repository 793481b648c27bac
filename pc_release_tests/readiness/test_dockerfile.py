"""The OCI labels of a Dockerfile's final image, read statically with Docker's stage, ARG and ENV semantics."""

from __future__ import annotations

import pytest

from pc_release.readiness.dockerfile import instructions, is_rfc3339, oci_label_findings
from pc_release.sandbox.sample import SAMPLE_REPO_TEMPLATE

ARGS = "ARG VERSION=0.0.0-dev\nARG REVISION=unknown\nARG CREATED=1970-01-01T00:00:00Z\n"
LABELS = (
    "LABEL org.opencontainers.image.version=$VERSION org.opencontainers.image.revision=${REVISION} "
    "org.opencontainers.image.created=$CREATED\n"
)


@pytest.mark.parametrize("runtime", ["api", "web", "worker", "terminal-gateway"])
def test_sample_runtime_dockerfiles_carry_the_labels(runtime):
    path = f"runtimes/{runtime}/Dockerfile"
    assert oci_label_findings(path, (SAMPLE_REPO_TEMPLATE / path).read_text()) == []


@pytest.mark.parametrize(
    ("dockerfile", "expected"),
    [
        pytest.param("FROM alpine\n" + ARGS + LABELS, [], id="single stage from ARGs"),
        pytest.param(
            "FROM alpine\nLABEL org.opencontainers.image.version=1.2.3 org.opencontainers.image.revision=abc123 "
            'org.opencontainers.image.created="2026-01-31T12:00:00+01:00"\n',
            [],
            id="literals, created with offset",
        ),
        pytest.param(
            "FROM alpine\n" + ARGS + "LABEL org.opencontainers.image.version=$VERSION "
            "org.opencontainers.image.revision=$REVISION\n",
            [(1, "oci-label-missing", "org.opencontainers.image.created")],
            id="created missing",
        ),
        pytest.param(
            "FROM golang AS build\n" + ARGS + LABELS + "RUN go build\n\nFROM scratch\nCOPY --from=build /app /app\n",
            [(8, "oci-label-missing", "it is set at line 5, in a stage that is not the final image")] * 3,
            id="labels only in the builder stage",
        ),
        pytest.param(
            "FROM alpine AS base\n" + ARGS + LABELS + "FROM base AS final\nRUN true\n",
            [],
            id="final stage inherits labels from its base stage",
        ),
        pytest.param(
            "FROM alpine AS base\n" + ARGS + "FROM base\n" + LABELS,
            [],
            id="final stage inherits ARGs from its base stage",
        ),
        pytest.param(
            ARGS + "FROM alpine\n" + LABELS,
            [(5, "oci-label-undeclared-arg", "does not declare with ARG (or ENV): the label would be empty")] * 3,
            id="global ARGs do not reach a stage that does not re-declare them",
        ),
        pytest.param(
            ARGS + "FROM alpine\nARG VERSION\nARG REVISION\nARG CREATED\n" + LABELS,
            [],
            id="global ARGs re-declared in the stage",
        ),
        pytest.param(
            "ARG CREATED=last-tuesday\nFROM alpine\nARG VERSION=1\nARG REVISION=x\nARG CREATED\n" + LABELS,
            [(6, "oci-label-created", "defaults to $CREATED='last-tuesday'")],
            id="created default inherited from a global ARG is checked",
        ),
        pytest.param(
            "FROM alpine\nENV VERSION=1.0 REVISION=abc CREATED=2026-01-31T12:00:00Z\n" + LABELS,
            [],
            id="values from ENV",
        ),
        pytest.param(
            "FROM alpine\nLABEL org.opencontainers.image.version=${VERSION:-0.0.0} "
            "org.opencontainers.image.revision=${REVISION:-unknown} "
            "org.opencontainers.image.created=${CREATED:-1970-01-01T00:00:00Z}\n",
            [],
            id="undeclared variables with fallbacks",
        ),
        pytest.param(
            "FROM alpine\nLABEL org.opencontainers.image.version=1 org.opencontainers.image.revision=x "
            "org.opencontainers.image.created=2026-02-30T00:00:00Z\n",
            [(2, "oci-label-created", "not an RFC 3339 timestamp")],
            id="impossible date",
        ),
        pytest.param(
            "FROM alpine\nLABEL org.opencontainers.image.version=1 org.opencontainers.image.revision=x "
            "org.opencontainers.image.created=2026-01-31\n",
            [(2, "oci-label-created", "not an RFC 3339 timestamp")],
            id="date without time",
        ),
        pytest.param(
            'FROM alpine\nLABEL org.opencontainers.image.version="" org.opencontainers.image.revision=x '
            "org.opencontainers.image.created=2026-01-31T00:00:00Z\n",
            [(2, "oci-label-empty", "org.opencontainers.image.version is empty")],
            id="empty literal",
        ),
        pytest.param(
            "FROM alpine\n" + ARGS + 'LABEL "org.opencontainers.image.version"="$VERSION" \\\n'
            "    # a comment line inside the continuation\n\n"
            "    org.opencontainers.image.revision=$REVISION \\\n"
            "    org.opencontainers.image.created=$CREATED\n",
            [],
            id="quoted keys, continuation lines with comments and blank lines",
        ),
        pytest.param(
            "# escape=`\nFROM mcr.microsoft.com/windows/servercore\n" + ARGS + "LABEL "
            "org.opencontainers.image.version=$VERSION `\n  org.opencontainers.image.revision=$REVISION `\n"
            "  org.opencontainers.image.created=$CREATED\n",
            [],
            id="escape directive",
        ),
        pytest.param(
            "FROM alpine\n" + ARGS + "LABEL org.opencontainers.image.version $VERSION\n"
            "LABEL org.opencontainers.image.revision=$REVISION\nLABEL org.opencontainers.image.created=$CREATED\n",
            [],
            id="legacy LABEL key value form",
        ),
        pytest.param(
            "FROM alpine\nRUN <<EOF\nLABEL org.opencontainers.image.version=1\nFROM nothing\nEOF\n"
            "LABEL org.opencontainers.image.revision=x\n",
            [
                (1, "oci-label-missing", "org.opencontainers.image.version"),
                (1, "oci-label-missing", "org.opencontainers.image.created"),
            ],
            id="heredoc bodies are not instructions",
        ),
        pytest.param("# only a comment\n", [(None, "dockerfile-syntax", "no FROM")], id="no FROM"),
        pytest.param(
            "FROM alpine\n" + ARGS + 'LABEL org.opencontainers.image.version="$VERSION\n' + LABELS,
            [(None, "dockerfile-syntax", "cannot read LABEL")],
            id="unbalanced quotes",
        ),
    ],
)
def test_oci_label_findings(dockerfile, expected):
    findings = oci_label_findings("Dockerfile", dockerfile)
    assert len(findings) == len(expected), findings
    for finding, (line, rule, text) in zip(findings, expected, strict=True):
        assert (finding.line, finding.rule) == (line, rule), finding
        assert text in finding.message


def test_instruction_lines_survive_continuations_and_heredocs():
    text = "FROM a\nRUN one \\\n  two\nCOPY <<-EOT /x\n\tbody\n\tEOT\nLABEL k=v\n"
    assert [(i.keyword, i.line) for i in instructions(text)] == [("FROM", 1), ("RUN", 2), ("COPY", 4), ("LABEL", 7)]


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2026-01-31T12:00:00Z", True),
        ("2026-01-31t12:00:00.123456z", True),
        ("2026-01-31T12:00:00-07:30", True),
        ("2026-01-31 12:00:00Z", False),
        ("2026-01-31T12:00:00", False),
        ("2026-13-01T00:00:00Z", False),
        ("yesterday", False),
    ],
)
def test_rfc3339(value, valid):
    assert is_rfc3339(value) is valid
