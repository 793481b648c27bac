"""ReleaseFilesResource: the release candidate env and records pc-release hands off, written atomically."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import dagster as dg

from pc_release.errors import InvalidInput
from pc_release.models import ReleaseCandidate

CANDIDATE_FILE = "platform-control-release-candidate.env"


def atomic_write(path: Path, content: str) -> None:
    """Write via a temp file and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def render_env(values: dict[str, str]) -> str:
    lines = []
    for key, value in values.items():
        if "\n" in value or "\r" in value:
            raise InvalidInput(f"{key} would span lines in the candidate env", rule="candidate-env")
        quoted = value if value and all(c.isalnum() or c in "-_./:@+=," for c in value) else json.dumps(value)
        lines.append(f"{key}={quoted}")
    return "\n".join(lines) + "\n"


def parse_env(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = json.loads(value) if value.startswith('"') else value
    return values


class ReleaseFilesResource(dg.ConfigurableResource):
    """The dist/ folder beside the clone: candidate env and release records live here."""

    dist_dir: str

    @property
    def candidate_path(self) -> Path:
        return Path(self.dist_dir) / CANDIDATE_FILE

    def write_candidate(self, values: dict[str, str]) -> ReleaseCandidate:
        content = render_env(values)
        atomic_write(self.candidate_path, content)
        return ReleaseCandidate(
            path=str(self.candidate_path),
            sha=values["PLATFORM_CONTROL_RELEASE_SHA"],
            content_sha256=hashlib.sha256(content.encode()).hexdigest(),
            values=values,
        )

    def read_candidate(self) -> dict[str, str] | None:
        path = self.candidate_path
        return parse_env(path.read_text(encoding="utf-8")) if path.exists() else None

    def write_json(self, name: str, payload: dict) -> Path:
        path = Path(self.dist_dir) / name
        atomic_write(path, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
        return path
