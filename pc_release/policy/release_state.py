"""What is released now and how far it is from master, in the words an operator reads at a glance.

Records in, text out: release_state_sensor gathers the facts (`ReleaseState`) and reports them whenever one of
them changes; every rule here only reads them.
"""

from __future__ import annotations

from datetime import datetime

from pc_release.models import Record
from pc_release.policy.audit import format_age

# The promotion step a materialization stands for, when it is the newest one: its pipeline has not ended yet.
IN_PROGRESS = {
    "release_branch": "in progress: release branch pushed, release pipeline not triggered yet",
    "release_pipeline": "in progress: release pipeline running",
}


class LastOutcome(Record):
    """The newest thing pc-release recorded about a promotion: the release record, or the step it reached."""

    sha: str
    kind: str
    outcome: str
    recorded_at: datetime
    pipeline_url: str | None = None


class ReleaseState(Record):
    """The release branch against master's head, read at one moment."""

    master_branch: str
    release_branch: str
    master_head: str
    release_sha: str | None
    behind: int | None = None
    release_only: int | None = None
    master_ci: str
    master_pipeline_url: str | None = None
    last: LastOutcome | None = None
    read_at: datetime


def outcome_of(asset: str, record_status: str | None) -> str:
    """The outcome an operator reads for the newest promotion materialization of `asset`."""
    if asset == "release_record":
        return record_status or "recorded, status unknown"
    return IN_PROGRESS[asset]


def headline(state: ReleaseState) -> str:
    """One line: where the release branch is, how far from master's head, master CI there, and the last outcome."""
    master = f"{state.master_branch} head {state.master_head[:12]} (CI {state.master_ci})"
    if state.release_sha is None:
        position = f"{state.release_branch} does not exist; {master}"
    elif state.release_sha == state.master_head:
        position = f"{state.release_branch} is at {master}"
    else:
        position = f"{state.release_branch} {state.release_sha[:12]} is {state.behind} commit(s) behind {master}"
        if state.release_only:
            position += f", with {state.release_only} release-only commit(s)"
    if state.last is None:
        return f"{position}; no promotion recorded"
    age = format_age(state.read_at - state.last.recorded_at)
    return f"{position}; last promotion: {state.last.outcome} ({state.last.kind} {state.last.sha[:12]}, {age} ago)"
