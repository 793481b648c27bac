#!/usr/bin/env python3
"""Package job publish:<runtime>: check the runtime's Dockerfile carries the OCI labels, build its image
reference, and report the runtime digest as a dotenv artifact for the digest fan-in."""

from __future__ import annotations

import hashlib
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from platform_control_ci import IMAGE_REPOSITORY, ROOT, commit_sha, digest_variable, fail, runtimes, write_dotenv

REQUIRED_LABELS = {
    "org.opencontainers.image.version": "VERSION",
    "org.opencontainers.image.revision": "REVISION",
    "org.opencontainers.image.created": "CREATED",
}


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    logical, pending = [], ""
    for line in dockerfile.splitlines():
        if line.lstrip().startswith("#") and not pending:
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    pairs = []
    for line in logical:
        if line.strip():
            keyword, _, args = line.strip().partition(" ")
            pairs.append((keyword.upper(), args.strip()))
    return pairs


def label_problems(dockerfile: str) -> list[str]:
    """Why the final stage would not carry the required OCI labels (empty when it does)."""
    steps = instructions(dockerfile)
    starts = [i for i, (keyword, _) in enumerate(steps) if keyword == "FROM"]
    if not starts:
        return ["no FROM instruction"]
    final = steps[starts[-1] + 1 :]
    args = {re.split(r"[=\s]", a, maxsplit=1)[0] for k, a in final if k == "ARG"}
    labels: dict[str, str] = {}
    for keyword, arguments in final:
        if keyword == "LABEL":
            for key, value in re.findall(r'([\w.\-]+)=("[^"]*"|\S+)', arguments):
                labels[key] = value.strip('"')
    problems = []
    for label, arg in REQUIRED_LABELS.items():
        if label not in labels:
            problems.append(f"final stage has no LABEL {label}")
        elif labels[label] not in (f"${arg}", f"${{{arg}}}"):
            problems.append(f"LABEL {label}={labels[label]} must be set from build arg ${arg}")
        elif arg not in args:
            problems.append(f"LABEL {label} uses ${arg} but the final stage declares no ARG {arg}")
    return problems


def runtime_digest(runtime_dir: Path, sha: str) -> str:
    """sha256 over the runtime directory's files (path and content, in path order) and the source SHA."""
    digest = hashlib.sha256()
    for path in sorted(p for p in runtime_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(runtime_dir).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(sha.encode())
    return "sha256:" + digest.hexdigest()


def main() -> int:
    if len(sys.argv) != 2:
        fail("usage: platform_control_publish_runtime.py <runtime>")
    runtime = sys.argv[1]
    matrix = runtimes("standard")
    if runtime not in matrix:
        fail(f"{runtime} is not in the runtime matrix ({', '.join(matrix)})")
    sha = commit_sha()
    dockerfile = ROOT / "runtimes" / runtime / "Dockerfile"
    if not dockerfile.exists():
        fail(f"runtimes/{runtime}/Dockerfile is missing")
    problems = label_problems(dockerfile.read_text())
    if problems:
        fail(f"runtimes/{runtime}/Dockerfile: " + "; ".join(problems) + " (fix the Dockerfile, not this check)")
    print(f"publish {runtime}: runtimes/{runtime}/Dockerfile carries {', '.join(REQUIRED_LABELS)}")
    version = os.environ.get("CI_COMMIT_TAG") or f"0.0.0+{sha[:12]}"
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"publish {runtime}: build args VERSION={version} REVISION={sha} CREATED={created}")
    digest = runtime_digest(ROOT / "runtimes" / runtime, sha)
    print(f"publish {runtime}: pushed {IMAGE_REPOSITORY}/{runtime}@{digest}")
    variable = digest_variable(runtime)
    write_dotenv(Path("runtime-digest.env"), {variable: digest})
    print(f"publish {runtime}: wrote runtime-digest.env ({variable})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
