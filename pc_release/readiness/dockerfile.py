"""The OCI labels a Dockerfile's final image carries, read statically: stages, ARG/ENV scope, LABEL values.

Docker semantics kept: only the final stage is the image; a stage built `FROM` an earlier stage inherits
its labels, ARGs and ENV; global ARGs (before the first FROM) reach a stage only when it re-declares them;
line continuations, comment lines inside them, the `# escape=` directive and heredocs are honoured.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime

from pc_release.readiness.models import Finding

REQUIRED_OCI_LABELS = (
    "org.opencontainers.image.version",
    "org.opencontainers.image.revision",
    "org.opencontainers.image.created",
)
CREATED_LABEL = "org.opencontainers.image.created"

_DIRECTIVE = re.compile(r"^#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$")
_HEREDOC = re.compile(r"<<(-?)\s*([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_VARIABLE = re.compile(r"\$(?:\{(?P<braced>\w+)(?:(?P<op>:?[-+])(?P<word>[^}]*))?\}|(?P<plain>[A-Za-z_]\w*))")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass(frozen=True)
class LabelValue:
    value: str
    line: int
    stage: str
    # variables the value reads -> their default in scope ("" when declared without one, None if undeclared)
    variables: dict[str, str | None] = field(default_factory=dict)


@dataclass
class Stage:
    index: int
    name: str | None
    base: str
    line: int
    instructions: list[Instruction] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"stage {self.name!r}" if self.name else f"stage {self.index} (FROM {self.base})"


def instructions(text: str) -> list[Instruction]:
    """Logical instructions with the line each starts on."""
    lines = text.splitlines()
    escape = "\\"
    index = 0
    # Parser directives: only at the very top, before any comment, blank line or instruction.
    while index < len(lines) and (directive := _DIRECTIVE.match(lines[index].strip())):
        if directive.group(1).lower() == "escape" and directive.group(2) in ("\\", "`"):
            escape = directive.group(2)
        index += 1
    result: list[Instruction] = []
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        start = index + 1
        parts = []
        while True:
            current = lines[index].rstrip()
            index += 1
            if current.endswith(escape):
                parts.append(current[:-1])
                while index < len(lines) and (not lines[index].strip() or lines[index].lstrip().startswith("#")):
                    index += 1
                if index < len(lines):
                    continue
            else:
                parts.append(current)
            break
        logical = " ".join(part.strip() for part in parts)
        keyword, _, args = logical.partition(" ")
        result.append(Instruction(keyword.upper(), args.strip(), start))
        for heredoc in _HEREDOC.finditer(args):
            strip_tabs, delimiter = heredoc.group(1) == "-", heredoc.group(3)
            while index < len(lines):
                body = lines[index].lstrip("\t") if strip_tabs else lines[index]
                index += 1
                if body.rstrip("\r") == delimiter:
                    break
    return result


def stages(text: str) -> tuple[list[Instruction], list[Stage]]:
    """(instructions before the first FROM, the build stages in order)."""
    preamble: list[Instruction] = []
    result: list[Stage] = []
    for instruction in instructions(text):
        if instruction.keyword == "FROM":
            words = [word for word in instruction.args.split() if not word.startswith("--")]
            base = words[0] if words else ""
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            result.append(Stage(len(result), name, base, instruction.line))
        elif result:
            result[-1].instructions.append(instruction)
        else:
            preamble.append(instruction)
    return preamble, result


def _assignments(args: str, keyword: str) -> list[tuple[str, str | None]]:
    """`K=V K2="V 2"` (or the legacy `K V`) of LABEL/ENV, and `NAME[=default] ...` of ARG."""
    words = shlex.split(args, posix=True)
    if not words:
        return []
    if keyword != "ARG" and "=" not in words[0]:
        return [(words[0], " ".join(words[1:]))]
    pairs: list[tuple[str, str | None]] = []
    for word in words:
        key, sep, value = word.partition("=")
        pairs.append((key, value if sep else None))
    return pairs


@dataclass
class _Scope:
    variables: dict[str, str] = field(default_factory=dict)
    labels: dict[str, LabelValue] = field(default_factory=dict)


def final_labels(text: str) -> tuple[Stage | None, dict[str, LabelValue], list[str]]:
    """The final stage, the labels its image carries, and reading problems (unparsable instructions)."""
    preamble, all_stages = stages(text)
    problems: list[str] = []
    global_args: dict[str, str] = {}
    for instruction in preamble:
        if instruction.keyword == "ARG":
            for name, default in _safe_assignments(instruction, problems):
                global_args[name] = default or ""
    scopes: dict[str, _Scope] = {}
    last: _Scope | None = None
    for stage in all_stages:
        parent = scopes.get(stage.base.lower())
        scope = _Scope(dict(parent.variables), dict(parent.labels)) if parent else _Scope()
        for instruction in stage.instructions:
            if instruction.keyword == "ARG":
                for name, default in _safe_assignments(instruction, problems):
                    scope.variables[name] = default if default is not None else global_args.get(name, "")
            elif instruction.keyword == "ENV":
                for name, value in _safe_assignments(instruction, problems):
                    scope.variables[name] = value or ""
            elif instruction.keyword == "LABEL":
                for key, value in _safe_assignments(instruction, problems):
                    scope.labels[key] = LabelValue(
                        value=value or "",
                        line=instruction.line,
                        stage=stage.label,
                        variables=_resolve(value or "", scope.variables),
                    )
        if stage.name:
            scopes[stage.name.lower()] = scope
        last = scope
    final = all_stages[-1] if all_stages else None
    return final, (last.labels if last else {}), problems


def _safe_assignments(instruction: Instruction, problems: list[str]) -> list[tuple[str, str | None]]:
    try:
        return _assignments(instruction.args, instruction.keyword)
    except ValueError as err:
        problems.append(f"line {instruction.line}: cannot read {instruction.keyword} ({err})")
        return []


def _resolve(value: str, scope: dict[str, str]) -> dict[str, str | None]:
    """Variable -> what it yields at build time without --build-arg: its default in scope, the `${X:-word}`
    fallback when undeclared, or None when undeclared with no fallback (the label would be empty)."""
    resolved: dict[str, str | None] = {}
    for match in _VARIABLE.finditer(value):
        name = match.group("braced") or match.group("plain")
        if name in scope:
            resolved[name] = scope[name]
        elif match.group("op") in (":-", "-") and match.group("word"):
            resolved[name] = match.group("word")
        else:
            resolved.setdefault(name, None)
    return resolved


def is_rfc3339(value: str) -> bool:
    if not _RFC3339.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def oci_label_findings(path: str, text: str) -> list[Finding]:
    """Why the image built from this Dockerfile would not carry the required OCI labels (empty when it does)."""
    final, labels, problems = final_labels(text)
    findings = [Finding(file=path, message=problem, rule="dockerfile-syntax") for problem in problems]
    if final is None:
        return [*findings, Finding(file=path, message="no FROM instruction", rule="dockerfile-syntax")]
    elsewhere = _labels_outside_final(text, final)
    for label in REQUIRED_OCI_LABELS:
        value = labels.get(label)
        if value is None:
            hint = (
                f"; it is set at line {elsewhere[label]}, in a stage that is not the final image"
                if (label in elsewhere)
                else ""
            )
            findings.append(
                Finding(
                    file=path,
                    line=final.line,
                    rule="oci-label-missing",
                    message=f"the final stage ({final.label}) sets no LABEL {label}{hint}",
                )
            )
            continue
        findings += _value_findings(path, label, value)
    return findings


def _value_findings(path: str, label: str, value: LabelValue) -> list[Finding]:
    undeclared = [name for name, default in value.variables.items() if default is None]
    if undeclared:
        names = ", ".join(f"${name}" for name in undeclared)
        return [
            Finding(
                file=path,
                line=value.line,
                rule="oci-label-undeclared-arg",
                message=f"LABEL {label}={value.value} reads {names}, which {value.stage} does not declare with "
                "ARG (or ENV): the label would be empty",
            )
        ]
    if not value.variables and not value.value.strip():
        return [Finding(file=path, line=value.line, rule="oci-label-empty", message=f"LABEL {label} is empty")]
    if label != CREATED_LABEL:
        return []
    if not value.variables and not is_rfc3339(value.value):
        return [
            Finding(
                file=path,
                line=value.line,
                rule="oci-label-created",
                message=f"LABEL {label}={value.value!r} is not an RFC 3339 timestamp (e.g. 2026-01-31T12:00:00Z)",
            )
        ]
    if len(value.variables) == 1:
        ((name, default),) = value.variables.items()
        if default and _VARIABLE.fullmatch(value.value) and not is_rfc3339(default):
            return [
                Finding(
                    file=path,
                    line=value.line,
                    rule="oci-label-created",
                    message=f"LABEL {label} defaults to ${name}={default!r}, which is not an RFC 3339 timestamp",
                )
            ]
    return []


def _labels_outside_final(text: str, final: Stage) -> dict[str, int]:
    """Required labels set in stages the final image does not inherit from: a common multi-stage mistake."""
    _, all_stages = stages(text)
    ancestry = {final.index}
    by_name = {stage.name.lower(): stage for stage in all_stages if stage.name}
    current = final
    while (parent := by_name.get(current.base.lower())) is not None and parent.index not in ancestry:
        ancestry.add(parent.index)
        current = parent
    found: dict[str, int] = {}
    for stage in all_stages:
        if stage.index in ancestry:
            continue
        for instruction in stage.instructions:
            if instruction.keyword == "LABEL":
                for key, _ in _safe_assignments(instruction, []):
                    found.setdefault(key, instruction.line)
    return found
