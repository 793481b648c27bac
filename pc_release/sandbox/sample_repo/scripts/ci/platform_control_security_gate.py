#!/usr/bin/env python3
"""Build-test job security-gate: no credentials committed, no plain Secrets in the platform overlay,
every runtime image drops root."""

from __future__ import annotations

import re
import sys

from platform_control_ci import PLATFORM_OVERLAY, ROOT, fail, load_documents, runtimes

CREDENTIAL_PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitLab token": re.compile(r"\bglpat-[0-9A-Za-z_\-]{20,}\b"),
}
SKIPPED_DIRS = {".git", "node_modules", "__pycache__", "test-results", "dist"}


def credential_findings() -> list[str]:
    findings = []
    for path in sorted(ROOT.rglob("*")):
        if not path.is_file() or SKIPPED_DIRS & set(path.relative_to(ROOT).parts):
            continue
        text = path.read_text(errors="ignore")
        findings += [f"{path.relative_to(ROOT)}: {name}" for name, rx in CREDENTIAL_PATTERNS.items() if rx.search(text)]
    return findings


def plain_secret_findings() -> list[str]:
    return [
        f"{path.relative_to(ROOT)}: Secret {doc['metadata']['name']} must come from an ExternalSecret"
        for path in sorted(PLATFORM_OVERLAY.glob("*.yaml"))
        for doc in load_documents(path)
        if doc.get("kind") == "Secret"
    ]


def root_user_findings() -> list[str]:
    findings = []
    for runtime in runtimes("standard"):
        dockerfile = (ROOT / "runtimes" / runtime / "Dockerfile").read_text()
        final_stage = re.split(r"(?im)^FROM\s", dockerfile)[-1]
        users = re.findall(r"(?im)^USER\s+(\S+)", final_stage)
        if not users or users[-1] in ("root", "0"):
            findings.append(f"runtimes/{runtime}/Dockerfile: final stage must switch to a non-root USER")
    return findings


def main() -> int:
    findings = credential_findings() + plain_secret_findings() + root_user_findings()
    if findings:
        fail("\n  ".join(["security gate findings:", *findings]))
    print("security-gate: no committed credentials, platform secrets via ExternalSecret, images run as non-root")
    return 0


if __name__ == "__main__":
    sys.exit(main())
