"""The sandbox GitLab's state on disk: one JSON file, replaced atomically, so a restarted server resumes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

STATE_FILE = "state.json"


def load_state(state_dir: Path | None) -> dict[str, Any] | None:
    """The saved state (next ids, pipelines, jobs), or None when there is no state directory or file yet."""
    if state_dir is None or not (state_dir / STATE_FILE).exists():
        return None
    return json.loads((state_dir / STATE_FILE).read_text())


def save_state(state_dir: Path | None, state: dict[str, Any]) -> None:
    if state_dir is None:
        return
    target = state_dir / STATE_FILE
    temporary = target.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(state, indent=1))
    temporary.replace(target)
