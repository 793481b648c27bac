"""Which job is which stage, what a stage's jobs add up to, what a profile or mode leaves out, and where a
failure is fixed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal, TypeVar

from pydantic import Field

from pc_release.models import GITLAB_TERMINAL_STATUSES, JobInfo, Record
from pc_release.release_config import PC_STAGES, ReleaseConfig

STAGES = PC_STAGES
STAGE_TITLES = {
    "contracts": "Contracts (OpenAPI/AsyncAPI, release branch guard)",
    "build_test": "Build/test (backend, frontend, integration, SDK, security gates)",
    "package": "Package (one publish job per runtime)",
    "digest_fan_in": "Digest fan-in",
    "deployment": "Deploy (schema, seed, manifests, image annotations, rollout, controller secrets)",
    "remote_validation": "Remote validation (endpoints, observability, image conformance, smoke, cleanup)",
}
NOT_RUN_BY_PROFILE = "not run by profile/mode"
# A job or a trigger job (`BridgeInfo` is a `JobInfo`): both are retried the same way.
AnyJob = TypeVar("AnyJob", bound=JobInfo)
# "Confirm deploy and remote validation jobs passed": every job of these stages must run, manual ones included,
# unless `.pc-release.yaml` names it in optional_release_jobs.
REQUIRED_STAGES = frozenset({"deployment", "remote_validation"})

# When `.pc-release.yaml` does not map a GitLab stage, its name decides; first match wins, so the more
# specific words come first ("post-deploy-validation" is validation, not deploy).
_STAGE_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("remote_validation", ("validat", "smoke", "verify", "post-deploy", "conformance")),
    ("digest_fan_in", ("digest", "fan-in", "fan_in", "fanin")),
    ("deployment", ("deploy", "rollout", "release")),
    ("package", ("package", "publish", "image", "docker")),
    ("contracts", ("contract", "openapi", "asyncapi", "guard", "lint")),
    ("build_test", ("build", "test", "check", "security", "sdk")),
)

JobState = Literal["passed", "warning", "failed", "canceled", "skipped", "ignored", "not_run", "running", "manual"]
# A job in one of these will not change any more (unless someone retries it).
SETTLED_JOB_STATES = frozenset({"passed", "warning", "failed", "canceled", "skipped", "ignored", "not_run"})
RAN_JOB_STATES = frozenset({"passed", "warning", "failed", "canceled"})

StageStatus = Literal[
    "passed",
    "passed_with_warnings",
    "failed",
    "canceled",
    "skipped",
    "missing",
    "not_run_by_profile",
    "in_progress",
    "waiting_for_manual",
]
SETTLED_STAGE_STATUSES = frozenset(
    {"passed", "passed_with_warnings", "failed", "canceled", "skipped", "missing", "not_run_by_profile"}
)


class JobRow(Record):
    """One GitLab job as a stage shows it: its latest attempt, plus what the earlier attempts did."""

    id: int
    name: str
    gitlab_stage: str
    status: str
    state: JobState
    web_url: str
    allow_failure: bool = False
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration: float | None = None
    earlier_attempts: list[str] = Field(default_factory=list)
    outside_profile: str | None = Field(None, description="Why the profile/mode does not expect this job to run")
    hint: str | None = None

    @property
    def ran(self) -> bool:
        """The job actually executed (a job canceled or skipped before it started did not)."""
        if self.state in ("passed", "failed"):
            return True
        return self.state in RAN_JOB_STATES and self.started_at is not None


class StageOutcome(Record):
    stage: str
    status: StageStatus
    jobs: list[JobRow] = Field(default_factory=list)
    not_run_by_profile: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    hints: list[str] = Field(default_factory=list)

    @property
    def settled(self) -> bool:
        return self.status in SETTLED_STAGE_STATUSES

    @property
    def ran_outside_profile(self) -> list[str]:
        """Jobs present although the profile/mode leaves them out: the CI rules and the release config disagree."""
        return [f"{job.name} ({job.outside_profile})" for job in self.jobs if job.outside_profile]

    @property
    def ran(self) -> bool:
        return any(job.ran for job in self.jobs)

    @property
    def ok(self) -> bool:
        return self.status in ("passed", "passed_with_warnings", "not_run_by_profile")

    @property
    def started_at(self) -> datetime | None:
        return min((j.started_at for j in self.jobs if j.started_at), default=None)

    @property
    def finished_at(self) -> datetime | None:
        return max((j.finished_at for j in self.jobs if j.finished_at), default=None)

    @property
    def duration(self) -> float | None:
        start, end = self.started_at, self.finished_at
        return round((end - start).total_seconds(), 3) if start and end else None

    def signature(self) -> str:
        """Changes whenever the stage's outcome could read differently (a retry, a late status change)."""
        return ";".join(f"{j.id}:{j.status}" for j in self.jobs) or f"<{self.status}>"


class RuntimePlan(Record):
    """Which runtimes of the matrix this pipeline must publish, and why the others are left out."""

    expected: list[str]
    filtered: dict[str, str] = Field(default_factory=dict)
    not_run_by_profile: list[str] = Field(default_factory=list)


def stage_for_job(config: ReleaseConfig, job_name: str, gitlab_stage: str) -> str | None:
    """The pc-release stage of a job: the release config decides; GitLab's stage name is the fallback."""
    mapped = config.pc_stage_for(job_name, gitlab_stage)
    if mapped is not None:
        return mapped
    name = gitlab_stage.lower()
    for stage, words in _STAGE_KEYWORDS:
        if any(word in name for word in words):
            return stage
    return None


def job_state(status: str, allow_failure: bool, pipeline_terminal: bool, required: bool = False) -> JobState:
    """What one GitLab job status means for its stage; unknown statuses count as still running.

    A manual job the release requires waits for its action even when GitLab calls it optional (a job-level
    `when: manual` is allowed to fail) or has finished the pipeline without it: it has not run, so it has not
    passed.
    """
    if status == "success":
        return "passed"
    if status in ("failed", "canceled") and allow_failure:
        return "warning"
    if status in ("failed", "canceled", "skipped"):
        return status  # type: ignore[return-value]
    if status == "manual" and required:
        return "manual"
    if status == "manual" and allow_failure:
        return "ignored"  # an optional manual action never holds a pipeline up
    if pipeline_terminal:
        # GitLab finished the pipeline without this job (a blocking manual job, a job left created).
        return "not_run"
    if status == "manual":
        return "manual"
    # created, waiting_for_resource, preparing, pending, running, scheduled, waiting_for_callback, canceling
    return "running"


def latest_attempts(jobs: Sequence[AnyJob]) -> list[tuple[AnyJob, list[AnyJob]]]:
    """Each job's (or trigger job's) latest attempt with its earlier attempts, in pipeline order.

    GitLab's REST jobs carry no `retried` flag: the attempts of a job share its name in the pipeline, and a retry
    is a new job with a higher id, so the highest id is the latest attempt. A child pipeline's job of the same
    name is another job, not an attempt.
    """
    attempts: dict[tuple[int | None, str], list[AnyJob]] = {}
    for job in sorted(jobs, key=lambda j: j.id):
        attempts.setdefault((job.pipeline_id, job.name), []).append(job)
    latest = sorted(attempts.values(), key=lambda tries: tries[-1].id)
    return [(tries[-1], tries[:-1]) for tries in latest]


def runtime_plan(config: ReleaseConfig, runtimes: Sequence[str], profile: str) -> RuntimePlan:
    """Runtimes to publish: the matrix, minus intentional filters, narrowed to the web runtimes by web-fast."""
    filtered = {r: config.publish_filters[r] for r in runtimes if r in config.publish_filters}
    candidates = [r for r in runtimes if r not in filtered]
    if profile == "web-fast":
        return RuntimePlan(
            expected=[r for r in candidates if r in config.web_runtimes],
            filtered=filtered,
            not_run_by_profile=[r for r in candidates if r not in config.web_runtimes],
        )
    return RuntimePlan(expected=candidates, filtered=filtered)


def expected_by_profile(config: ReleaseConfig, job_name: str, mode: str, profile: str) -> tuple[bool, str | None]:
    """(expected, why not) for a job under the pipeline's profile and mode."""
    if profile == "web-fast" and not config.is_web_fast_job(job_name):
        return False, "web-fast runs only the contract checks, frontend build/test, web runtimes and web smoke"
    if mode == "deploy" and config.is_report_only_job(job_name):
        return False, "deploy mode skips the post-deploy report-only evidence"
    return True, None


def _publish_runtime(config: ReleaseConfig, job_name: str, runtimes: Sequence[str]) -> str | None:
    return next((r for r in runtimes if config.publish_job_for(r) == job_name), None)


def owning_layer_hint(config: ReleaseConfig, job_name: str, stage: str | None, runtimes: Sequence[str]) -> str:
    """Where the policy says a failure of this job is fixed (always on master, then a new exact SHA)."""
    runtime = _publish_runtime(config, job_name, runtimes)
    schema, seed = config.database.schema_file, config.database.seed_file
    if runtime is not None:
        return (
            f"Image label/build failure: fix {config.dockerfile_for(runtime)} and its build path (OCI labels "
            "org.opencontainers.image.version, .revision, .created), not the publish check."
        )
    name = job_name.lower()
    if stage == "digest_fan_in" or "digest" in name or "fan-in" in name:
        return missing_artifact_hint(config)
    rules: tuple[tuple[tuple[str, ...], str], ...] = (
        (
            ("frontend", "web-test", "playwright", "vitest", "typescript", "ui-"),
            "Frontend failure: update the UI contract and its test expectations together, on master.",
        ),
        (
            ("sdk", "codegen", "generated"),
            "SDK failure: regenerate the generated artifacts from the API contract and commit them on master.",
        ),
        (
            ("label", "oci", "dockerfile"),
            "Image label failure: fix the runtime Dockerfile/build path, not the publish check.",
        ),
        (
            ("seed",),
            f"Seed failure: keep {seed} within the constraints {schema} gives existing databases (add the new "
            f"enum/check value to {schema} first, refreshed for existing databases).",
        ),
        (
            ("schema", "migrat"),
            f"Schema failure: make {schema} safe for existing databases (ALTER TABLE ... ADD COLUMN IF NOT "
            f"EXISTS, refreshed constraints) and keep {seed} aligned.",
        ),
        (
            ("cleanup", "disposable"),
            "Remote cleanup failure: treat it as a lifecycle/read-model defect unless proven to be external "
            "infrastructure failure.",
        ),
        (
            ("guard",),
            "Release branch guard: the release branch has commits master lacks; merge them into master and "
            "promote one exact SHA.",
        ),
        (
            ("openapi", "asyncapi", "contract"),
            "Contract failure: fix the API contract on master and regenerate what is generated from it.",
        ),
        (
            ("conformance",),
            "Runtime image conformance: the cluster does not run the fan-in digests; check the deploy "
            "manifests' image pins/annotations and the rollout.",
        ),
    )
    for words, hint in rules:
        if any(word in name for word in words):
            return hint
    fallback = {
        "contracts": "Contract failure: fix the API contract or guard finding on master.",
        "build_test": "Build/test failure: fix the owning code or its tests on master.",
        "package": missing_artifact_hint(config),
        "deployment": "Deploy failure: fix the manifests, rollout or secret reconciliation on master.",
        "remote_validation": "Remote validation failure: fix the owning runtime on master; only external "
        "infrastructure failures justify a retry of this SHA.",
    }
    return fallback.get(stage or "", "Fix the failure at its owning layer on master, then promote the new SHA.")


def manual_action_hint(job_name: str, web_url: str) -> str:
    return (
        f"{job_name} is a manual job that has not run: the release waits for it to be run ({web_url}); if a "
        "release may go without it, name it in optional_release_jobs in .pc-release.yaml."
    )


def missing_artifact_hint(config: ReleaseConfig) -> str:
    return (
        f"Missing runtime artifact: update the runtime matrix ({config.runtime_matrix}), the publish job graph "
        f"({config.publish_job}) and the digest fan-in together."
    )


def stage_outcome(
    stage: str,
    jobs: Sequence[tuple[JobInfo, list[JobInfo]]],
    *,
    config: ReleaseConfig,
    runtimes: Sequence[str],
    mode: str,
    profile: str,
    pipeline_terminal: bool,
    downstream_terminal: Mapping[int, bool] | None = None,
) -> StageOutcome:
    """What one stage's jobs (latest attempts, with earlier ones) add up to.

    `downstream_terminal`: child pipeline id -> whether it finished, for the jobs of the release pipeline's
    child pipelines (a child may still run when its parent finished, and the reverse).
    """
    rows = []
    for job, earlier in jobs:
        required = stage in REQUIRED_STAGES and not config.is_optional_release_job(job.name)
        terminal = (downstream_terminal or {}).get(job.pipeline_id or 0, pipeline_terminal)
        state = job_state(job.status, job.allow_failure, terminal, required)
        expected, why_not = expected_by_profile(config, job.name, mode, profile)
        hint = None
        if state == "failed":
            hint = owning_layer_hint(config, job.name, stage, runtimes)
        elif required and state == "manual":
            hint = manual_action_hint(job.name, job.web_url)
        rows.append(
            JobRow(
                id=job.id,
                name=job.name,
                gitlab_stage=job.stage,
                status=job.status,
                state=state,
                web_url=job.web_url,
                allow_failure=job.allow_failure,
                started_at=job.started_at,
                finished_at=job.finished_at,
                duration=job.duration,
                earlier_attempts=[f"#{e.id} {e.status}" for e in earlier],
                outside_profile=None if expected else why_not,
                hint=hint,
            )
        )
    not_run, missing = _left_out(stage, rows, config=config, runtimes=runtimes, mode=mode, profile=profile)
    states = {row.state for row in rows}
    hints = list(dict.fromkeys(row.hint for row in rows if row.hint))
    if states - SETTLED_JOB_STATES:
        status: StageStatus = "waiting_for_manual" if states - SETTLED_JOB_STATES == {"manual"} else "in_progress"
    elif not rows:
        status = "not_run_by_profile" if profile == "web-fast" else "missing"
    elif "failed" in states:
        status = "failed"
    elif "canceled" in states:
        status = "canceled"
    elif missing:
        status = "failed"
    elif not any(row.ran for row in rows):
        status = "skipped"
    elif "warning" in states:
        status = "passed_with_warnings"
    else:
        status = "passed"
    if missing and status in ("failed", "missing"):
        hints.append(missing_artifact_hint(config) if stage == "package" else f"Expected jobs did not run: {missing}")
    if status == "missing" and stage != "package":
        hints.append(f"No job of this pipeline maps to {stage}; check `stages` in .pc-release.yaml.")
    return StageOutcome(
        stage=stage,
        status=status,
        jobs=rows,
        not_run_by_profile=not_run,
        missing=missing,
        hints=list(dict.fromkeys(hints)),
    )


def _left_out(
    stage: str, rows: Sequence[JobRow], *, config: ReleaseConfig, runtimes: Sequence[str], mode: str, profile: str
) -> tuple[list[str], list[str]]:
    """(left out by profile/mode, expected but absent) for the stage's jobs."""
    present = {row.name for row in rows}
    not_run: list[str] = []
    missing: list[str] = []
    if stage == "package":
        plan = runtime_plan(config, runtimes, profile)
        not_run += [
            f"{config.publish_job_for(r)} (web-fast publishes {', '.join(config.web_runtimes)} only)"
            for r in plan.not_run_by_profile
            if config.publish_job_for(r) not in present
        ]
        missing += [config.publish_job_for(r) for r in plan.expected if config.publish_job_for(r) not in present]
    if stage == "remote_validation" and mode == "deploy":
        not_run += [
            f"{name} (deploy mode skips report-only evidence)"
            for name in config.report_only_jobs
            if name not in present
        ]
    return not_run, missing


def group_by_stage(
    config: ReleaseConfig, jobs: Sequence[JobInfo]
) -> tuple[dict[str, list[tuple[JobInfo, list[JobInfo]]]], list[JobInfo]]:
    """Latest attempts grouped by pc-release stage (every stage present), and the jobs no stage watches."""
    grouped: dict[str, list[tuple[JobInfo, list[JobInfo]]]] = {stage: [] for stage in STAGES}
    unwatched: list[JobInfo] = []
    for job, earlier in latest_attempts(jobs):
        stage = stage_for_job(config, job.name, job.stage)
        if stage is None:
            unwatched.append(job)
        else:
            grouped[stage].append((job, earlier))
    return grouped, unwatched


def pipeline_stages(
    config: ReleaseConfig,
    jobs: Sequence[JobInfo],
    *,
    runtimes: Sequence[str],
    mode: str,
    profile: str,
    pipeline_status: str,
    downstream_status: Mapping[int, str] | None = None,
) -> list[StageOutcome]:
    """Every stage's outcome, in pipeline order; `jobs` may include the jobs of the child pipelines whose
    statuses `downstream_status` gives (pipeline id -> status)."""
    grouped, _ = group_by_stage(config, jobs)
    terminal = pipeline_status in GITLAB_TERMINAL_STATUSES
    downstream_terminal = {pid: status in GITLAB_TERMINAL_STATUSES for pid, status in (downstream_status or {}).items()}
    return [
        stage_outcome(
            stage,
            grouped[stage],
            config=config,
            runtimes=runtimes,
            mode=mode,
            profile=profile,
            pipeline_terminal=terminal,
            downstream_terminal=downstream_terminal,
        )
        for stage in STAGES
    ]


def awaiting_manual_action(pipeline_status: str, stages: Sequence[StageOutcome]) -> list[str]:
    """Required manual jobs a green pipeline still waits for: GitLab calls the pipeline done, the release is not.

    GitLab finishes a pipeline as `success` while optional manual jobs have not run; running one later reopens
    the pipeline, so a release that needs them is followed until they ran.
    """
    if pipeline_status != "success":
        return []
    return [
        row.name for stage in stages if stage.stage in REQUIRED_STAGES for row in stage.jobs if row.state == "manual"
    ]
