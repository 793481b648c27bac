"""Pydantic records passed between pc-release layers (resources -> policy -> Dagster definitions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


# What a rule found. Only "failed" blocks; "warning" passes but asks for attention; "not_applicable" (nothing to
# judge at this SHA) and "not_evaluated" (the rule could not look) are not a pass, and are never shown as one.
VerdictStatus = Literal["passed", "warning", "failed", "not_applicable", "not_evaluated"]


class Verdict(Record):
    """The outcome of one policy rule: pure data, rendered by checks, errors and records alike.

    A pass/fail rule says `ok=` (True: passed, False: failed); any other outcome says its `status=`. The two
    cannot be mixed, so no verdict is "failed, but only a warning"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str
    status: VerdictStatus
    reason: str
    evidence: dict[str, str | int | bool | list[str]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_ok(cls, data: Any) -> Any:
        if isinstance(data, dict) and "ok" in data:
            if "status" in data:
                raise ValueError("a verdict takes ok= (passed or failed) or status=, not both")
            data = {k: v for k, v in data.items() if k != "ok"} | {"status": "passed" if data["ok"] else "failed"}
        return data

    @property
    def ok(self) -> bool:
        """The rule does not block."""
        return self.status != "failed"

    @property
    def warning(self) -> bool:
        """Not blocking, but not a clean pass either: a warning, or a rule that could not look."""
        return self.status in ("warning", "not_evaluated")


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
    # The release this promotion replaces (the last one recorded as released), which is not always the branch's
    # value: after a crash following the push, the branch already holds `sha`.
    previous_release_sha: str | None
    previous_release_source: str = ""
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
    # The pipeline the job belongs to: a release pipeline's jobs include those of its child pipelines, and a
    # job name is unique only within one pipeline.
    pipeline_id: int | None = None


class PipelineInfo(Record):
    id: int
    sha: str
    ref: str
    status: str
    web_url: str
    source: str | None = None
    project_id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def terminal(self) -> bool:
        return self.status in GITLAB_TERMINAL_STATUSES


class BridgeInfo(JobInfo):
    """A trigger job (GitLab's bridge: `Entities::Ci::Bridge` is a `JobBasic` plus `downstream_pipeline`) and the
    downstream pipeline it started, if any yet."""

    downstream: PipelineInfo | None = None


class BranchAccess(Record):
    """What GitLab's branches API tells the token's user about one branch: whether it is protected and whether
    this user may push to it (a pipeline on a protected branch needs push or merge rights there)."""

    name: str
    protected: bool
    can_push: bool
    developers_can_merge: bool = False


class MasterCi(Record):
    sha: str
    pipeline: PipelineInfo | None
    verdict: Verdict
    # Each promotion asset carries what it was computed from, so the lineage is the chain the policy describes:
    # every asset reads only the one before it.
    source: SourceCommit


PreflightStatus = Literal["passed", "failed", "skipped", "not_run", "scoped_passed", "scoped_failed"]
PreflightCheckStatus = Literal["passed", "failed", "skipped"]
# Why a preflight check failed: a real defect, a local environment that could not run it, or e2e flakiness.
PreflightClassification = Literal["release_blocker", "environment_drift", "local_instability"]


class PreflightTest(Record):
    """One failing or flaky test of a preflight check, as the check's report names it."""

    title: str
    location: str
    project: str | None = None
    attempts: int = 1
    message: str = ""


class PreflightCheck(Record):
    """One local preflight check's outcome, classified, with the evidence behind the classification."""

    name: str
    status: PreflightCheckStatus
    reason: str
    classification: PreflightClassification | None = None
    scope: str | None = None
    report_format: str | None = None
    exit_code: int | None = None
    duration_seconds: float = 0.0
    counts: dict[str, int] = Field(default_factory=dict)
    failing_tests: list[PreflightTest] = Field(default_factory=list)
    flaky_tests: list[PreflightTest] = Field(default_factory=list)
    evidence: dict[str, str | int | bool | list[str]] = Field(default_factory=dict)
    output_tail: str = ""


class PreflightReport(Record):
    """The local preflight's signal; advisory unless the operator made it blocking."""

    status: PreflightStatus
    reason: str
    blocking: bool = False
    scope: str | None = None
    classifications: dict[str, str] = Field(default_factory=dict)
    checks: list[PreflightCheck] = Field(default_factory=list)
    duration_seconds: float | None = None
    master_ci: MasterCi | None = Field(default=None, description="The primary gate this preflight ran after.")


class KeptCommits(Record):
    """Commits the release branch was moved off, kept reachable by pc-release under `ref` (which points at `sha`).

    `commits` are the ones master lacked when they were kept, or, read back by the drift audit, still lacks."""

    ref: str
    sha: str
    commits: list[CommitInfo] = Field(default_factory=list)


class ReleaseBranchUpdate(Record):
    branch: str
    sha: str
    previous_sha: str | None
    pushed: bool
    kept: KeptCommits | None = None
    # The newest release-branch pipeline when this run pushed (0 when it pushed nothing): every pipeline up to it
    # ran before the push, so none of them deploys what was pushed.
    pipelines_before_push: int = 0
    preflight: PreflightReport | None = Field(default=None, description="The preflight (and gates) the push followed.")


class ReleaseCandidate(Record):
    path: str
    sha: str
    content_sha256: str
    values: dict[str, str]
    branch: ReleaseBranchUpdate | None = Field(default=None, description="The push this candidate was written for.")


class ReleasePipeline(Record):
    pipeline: PipelineInfo
    variables: dict[str, str]
    request_id: str
    created: bool
    kind: PromotionKind


# Kubernetes objects as pc-release reads them (KubernetesResource, and manifests parsed the same way).


class KubeContainer(Record):
    """A container of a workload's pod template: its image and the names (never values) it is configured with."""

    name: str
    image: str = ""
    env_names: list[str] = Field(default_factory=list)
    secret_refs: list[str] = Field(default_factory=list)
    configmap_key_refs: list[str] = Field(default_factory=list, description="CONFIGMAP/KEY read by env vars")


class KubeSelectorRequirement(Record):
    """One `matchExpressions` entry of a label selector: operator In, NotIn, Exists or DoesNotExist."""

    key: str
    operator: str
    values: list[str] = Field(default_factory=list)


class KubeDeployment(Record):
    name: str
    namespace: str | None = None
    kind: str = "Deployment"
    labels: dict[str, str] = Field(default_factory=dict)
    selector: dict[str, str] = Field(default_factory=dict, description="The pod selector's matchLabels.")
    selector_expressions: list[KubeSelectorRequirement] = Field(
        default_factory=list, description="The pod selector's matchExpressions, ANDed with its matchLabels."
    )
    replicas: int | None = None
    ready_replicas: int = 0
    containers: list[KubeContainer] = Field(default_factory=list)
    image_pull_secrets: list[str] = Field(default_factory=list)
    secret_refs: list[str] = Field(
        default_factory=list, description="Every Secret the pod template references: env, envFrom, volumes, pulls."
    )


class KubeContainerStatus(Record):
    name: str
    image: str = ""
    image_id: str = ""
    ready: bool = False
    restart_count: int = 0


class KubePod(Record):
    name: str
    namespace: str | None = None
    phase: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    owner: str | None = Field(None, description="KIND/NAME of the controlling owner, e.g. ReplicaSet/api-5d9f")
    ready: bool = Field(False, description="The pod's Ready condition is True, as the kubelet reports it.")
    terminating: bool = Field(False, description="Deletion requested (metadata.deletionTimestamp): on its way out.")
    containers: list[KubeContainerStatus] = Field(
        default_factory=list, description="The app containers' statuses (containerStatuses); init containers aside."
    )


class KubeConfigMap(Record):
    name: str
    namespace: str | None = None
    keys: list[str] = Field(default_factory=list)


class KubeSecret(Record):
    """A Secret by name and type only: its keys and values are never read into a record."""

    name: str
    namespace: str | None = None
    type: str = "Opaque"
