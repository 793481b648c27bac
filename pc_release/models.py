"""Pydantic records passed between pc-release layers (resources -> policy -> Dagster definitions)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ReleaseMode = Literal["full", "deploy"]
ReleaseProfile = Literal["standard", "web-fast"]
PromotionKind = Literal["release", "dev-test"]

# Every status GitLab documents for pipelines and jobs; anything else is kept verbatim, never rejected.
GITLAB_TERMINAL_STATUSES = frozenset({"success", "failed", "canceled", "skipped"})
GITLAB_STATUSES = GITLAB_TERMINAL_STATUSES | {
    "created",
    "waiting_for_resource",
    "preparing",
    "pending",
    "running",
    "canceling",
    "manual",
    "scheduled",
    "waiting_for_callback",
}


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class Verdict(Record):
    """The outcome of one policy rule: pure data, rendered by checks, errors and records alike."""

    rule: str
    ok: bool
    reason: str
    evidence: dict[str, str | int | bool | list[str]] = Field(default_factory=dict)
    warning: bool = False


class PromotionRequest(Record):
    """What the operator asked for, after validation against the policy."""

    source_ref: str = "origin/master"
    mode: ReleaseMode = "full"
    profile: ReleaseProfile = "standard"
    kind: PromotionKind = "release"
    skip_local_preflight: bool = False
    require_local_preflight: bool = False
    allow_divergence: bool = False
    preflight_scope: str | None = None
    transient_retry_reason: str | None = None

    @property
    def dev_test(self) -> bool:
        return self.kind == "dev-test"


class CommitInfo(Record):
    sha: str
    subject: str
    author: str
    committed_at: datetime


class SourceCommit(Record):
    """The one exact SHA a promotion is about, and what git says about it."""

    request: PromotionRequest
    sha: str
    commit: CommitInfo
    on_master: bool
    master_sha: str
    release_sha: str | None
    release_only_commits: list[CommitInfo] = Field(default_factory=list)


class JobInfo(Record):
    id: int
    name: str
    stage: str
    status: str
    web_url: str
    allow_failure: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration: float | None = None
    retried: bool = False


class PipelineInfo(Record):
    id: int
    sha: str
    ref: str
    status: str
    web_url: str
    source: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def terminal(self) -> bool:
        return self.status in GITLAB_TERMINAL_STATUSES


class MasterCi(Record):
    sha: str
    pipeline: PipelineInfo | None
    verdict: Verdict


PreflightStatus = Literal["passed", "failed", "skipped", "not_run", "scoped_passed", "scoped_failed"]


class PreflightReport(Record):
    """The local preflight's signal; advisory unless the operator made it blocking."""

    status: PreflightStatus
    reason: str
    blocking: bool = False
    scope: str | None = None
    classifications: dict[str, str] = Field(default_factory=dict)


class ReleaseBranchUpdate(Record):
    branch: str
    sha: str
    previous_sha: str | None
    pushed: bool


class ReleaseCandidate(Record):
    path: str
    sha: str
    content_sha256: str
    values: dict[str, str]


class ReleasePipeline(Record):
    pipeline: PipelineInfo
    variables: dict[str, str]
    request_id: str
    created: bool
    kind: PromotionKind
