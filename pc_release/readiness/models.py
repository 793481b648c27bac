"""Records the readiness readers produce and the readiness policy judges (pydantic only, no I/O)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pc_release.models import Record, Verdict


class Finding(Record):
    """One defect at a place in the candidate tree: `file:line: message`."""

    file: str
    line: int | None = None
    message: str
    rule: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


class CiJobFacts(Record):
    """What the digest fan-in needs to know about one job of the release pipeline."""

    name: str
    stage: str
    when: str = "on_success"
    dotenv_reports: list[str] = Field(default_factory=list)
    # `artifacts:paths`: the files GitLab keeps for download (a dotenv report is not among them unless listed).
    artifact_paths: list[str] = Field(default_factory=list)
    # Jobs whose artifacts (dotenv reports included) this job receives; None: every job of an earlier stage.
    receives_from: list[str] | None = None
    location: str = ""


class PublishFacts(Record):
    """The runtime matrix next to the release pipeline `.gitlab-ci.yml` would create for the candidate."""

    status: Literal["ok", "not_applicable", "broken"]
    reason: str = ""
    matrix_file: str = ""
    profile: str = "standard"
    runtimes: list[str] = Field(default_factory=list)
    filters: dict[str, str] = Field(default_factory=dict)
    expected_jobs: dict[str, str] = Field(default_factory=dict)
    jobs: list[CiJobFacts] = Field(default_factory=list)
    stages: list[str] = Field(default_factory=list)
    fan_in_jobs: list[str] = Field(default_factory=list)
    digest_artifact: str = "runtime-digest.env"
    digest_variables: dict[str, str] = Field(default_factory=dict)
    unmatched_publish_jobs: list[str] = Field(default_factory=list)
    # Includes of .gitlab-ci.yml that are not read (remote, project, template, component): jobs there are unseen.
    unresolved_includes: list[str] = Field(default_factory=list)
    # Why the configuration was read offline although GitLab was asked for its merge ("" when GitLab answered).
    ci_lint_unavailable: str = ""

    def job(self, name: str) -> CiJobFacts | None:
        return next((job for job in self.jobs if job.name == name), None)


class RuntimeFindings(Record):
    """Per-check findings over the runtimes, or why the check does not apply to this SHA."""

    applicable: bool = True
    reason: str = ""
    checked: list[str] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class SqlFailure(Record):
    """A statement PostgreSQL refused, located in its file."""

    file: str
    line: int
    statement: str
    sqlstate: str = ""
    message: str
    detail: str = ""
    hint: str = ""
    constraint: str = ""
    table: str = ""
    column: str = ""

    @property
    def constraint_violation(self) -> bool:
        """SQLSTATE class 23: the data broke a constraint (check, unique, not-null, foreign key)."""
        return self.sqlstate.startswith("23")

    def describe(self) -> str:
        text = f"{self.file}:{self.line}: {self.message}"
        if self.constraint:
            text += f" (constraint {self.constraint})"
        if self.detail:
            text += f"; {self.detail}"
        return f"{text}; statement: {self.statement}"


StepStatus = Literal["applied", "failed", "not_run", "absent"]
# The steps of a schema run, in the order deploys take them.
RELEASED_SCHEMA = "released schema"
RELEASED_SEED = "released seed"
CANDIDATE_SCHEMA = "candidate schema"
CANDIDATE_SCHEMA_AGAIN = "candidate schema again"
CANDIDATE_SEED = "candidate seed"


class SqlStep(Record):
    """One file applied to one scratch database."""

    name: str
    file: str
    sha: str
    status: StepStatus
    statements: int = 0
    failure: SqlFailure | None = None


class SchemaRun(Record):
    """The schema and seed applied on a real PostgreSQL, the way deploys apply them."""

    applicable: bool = True
    reason: str = ""
    problems: list[Finding] = Field(default_factory=list)
    database_error: str = ""
    baseline: str = ""
    baseline_ok: bool = True
    upgrade: list[SqlStep] = Field(default_factory=list)
    fresh: list[SqlStep] = Field(default_factory=list)
    lint: list[Finding] = Field(default_factory=list)

    def step(self, run: Literal["upgrade", "fresh"], name: str) -> SqlStep | None:
        return next((step for step in getattr(self, run) if step.name == name), None)


class CodegenOutcome(Record):
    """The declared codegen command run in a throwaway worktree of the SHA."""

    applicable: bool = True
    reason: str = ""
    command: list[str] = Field(default_factory=list)
    exit_code: int | None = None
    error: str = ""
    output_tail: str = ""
    stale: list[str] = Field(default_factory=list)
    diff: str = ""


class WorktreeState(Record):
    """The operator's release worktree: anything not committed and pushed is a release-only edit."""

    configured: bool = False
    path: str = ""
    error: str = ""
    dirty: list[str] = Field(default_factory=list)
    unpushed: list[str] = Field(default_factory=list)


class RemoteState(Record):
    """Whether one canonical remote's master already contains the candidate SHA."""

    remote: str
    master_sha: str | None = None
    contains: bool = False
    error: str = ""


class ReadinessReport(Record):
    sha: str
    released_sha: str | None
    verdicts: list[Verdict]

    @property
    def blockers(self) -> list[Verdict]:
        return [verdict for verdict in self.verdicts if not verdict.ok]
