"""One look at a watched release pipeline: GitLab's pipeline, its jobs and those of the child pipelines its
trigger jobs started, the release config and runtime matrix at its SHA, the runtime digests from the publish jobs'
artifacts, and the verdicts of every stage's checks."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from pc_release.dotenv import DotenvError, parse_dotenv_report
from pc_release.errors import InvalidInput
from pc_release.models import GITLAB_TERMINAL_STATUSES, JobInfo, PipelineInfo, Verdict
from pc_release.policy.pipeline import downstream as downstream_rules
from pc_release.policy.pipeline import gates as gate_rules
from pc_release.policy.pipeline import record as record_rules
from pc_release.policy.pipeline import stages as stage_rules
from pc_release.release_config import (
    DEFAULT_RELEASE_CONFIG,
    RELEASE_CONFIG_PATH,
    ReleaseConfig,
    ReleaseConfigError,
    RuntimeMatrixError,
    load_release_config,
    parse_runtime_matrix,
)
from pc_release.resources.git import GitClone
from pc_release.resources.gitlab import GitLabResource

MODE_VARIABLE = "PLATFORM_CONTROL_RELEASE_MODE"
PROFILE_VARIABLE = "PLATFORM_CONTROL_RELEASE_PROFILE"


class DigestRead(BaseModel):
    """A runtime digest as read from one publish job's artifact (None: the artifact or variable was missing)."""

    job_id: int
    digest: str | None
    problem: str | None = Field(None, description="Why the artifact gave no digest, when it was absent or invalid")


class WatchedPipeline(BaseModel):
    """What the sensor remembers about one release pipeline between ticks (it lives in the sensor cursor)."""

    pipeline_id: int
    sha: str
    kind: str = "release"
    mode: str = "full"
    profile: str = "standard"
    run_id: str | None = None
    emitted: dict[str, str] = Field(default_factory=dict, description="stage -> signature last reported")
    digests: dict[str, DigestRead] = Field(default_factory=dict)
    partitions_requested: bool = False
    conformance: Verdict | None = None

    @classmethod
    def from_release_pipeline(cls, metadata: dict, run_id: str | None) -> WatchedPipeline:
        """From the metadata of a `release_pipeline` materialization (written by the promotion job)."""
        variables = metadata.get("variables") or {}
        return cls(
            pipeline_id=int(metadata["pipeline_id"]),
            sha=str(metadata["sha"]),
            kind=str(metadata.get("kind") or "release"),
            mode=str(variables.get(MODE_VARIABLE) or "full"),
            profile=str(variables.get(PROFILE_VARIABLE) or "standard"),
            run_id=run_id,
        )


@dataclass
class Observation:
    """The pipeline as GitLab and the repository at its SHA show it right now."""

    watched: WatchedPipeline
    pipeline: PipelineInfo
    config: ReleaseConfig
    runtimes: list[str]
    stages: list[stage_rules.StageOutcome]
    notes: list[str]
    downstream: list[downstream_rules.Downstream]

    @property
    def terminal(self) -> bool:
        """GitLab finished the pipeline and the child pipelines it follows, and no job the release requires still
        waits for its manual action."""
        pipeline = self.pipeline
        return (
            pipeline.status in GITLAB_TERMINAL_STATUSES
            and all(d.settled for d in self.downstream)
            and not stage_rules.awaiting_manual_action(pipeline.status, self.stages)
        )

    @property
    def plan(self) -> stage_rules.RuntimePlan:
        return stage_rules.runtime_plan(self.config, self.runtimes, self.watched.profile)

    def stage(self, name: str) -> stage_rules.StageOutcome:
        return next(stage for stage in self.stages if stage.stage == name)

    def publish_job(self, runtime: str) -> stage_rules.JobRow | None:
        name = self.config.publish_job_for(runtime)
        return next((row for row in self.stage("package").jobs if row.name == name), None)

    def digests(self) -> dict[str, str | None]:
        """Digest of each runtime the pipeline publishes, as read so far."""
        return {
            runtime: read.digest if (read := self.watched.digests.get(runtime)) else None
            for runtime in self.plan.expected
        }

    def digest_problems(self) -> dict[str, str]:
        """Why a runtime's digest artifact could not be read, for the runtimes whose artifact was absent or invalid."""
        return {
            runtime: read.problem
            for runtime in self.plan.expected
            if (read := self.watched.digests.get(runtime)) is not None and read.problem
        }


def _show(clone: GitClone, sha: str, path: str) -> str | None:
    text = clone.show_file(sha, path)
    if text is None:
        try:
            clone.resolve(sha)
        except InvalidInput:
            # The SHA was pushed from another clone: fetch once, then read again.
            clone.fetch()
            text = clone.show_file(sha, path)
    return text


def release_config_at(clone: GitClone, sha: str) -> tuple[ReleaseConfig, list[str]]:
    """The release config at the pipeline's SHA; a broken one falls back to the defaults, with the problems."""
    text = _show(clone, sha, RELEASE_CONFIG_PATH)
    if text is None:
        return DEFAULT_RELEASE_CONFIG, [f"no {RELEASE_CONFIG_PATH} at {sha}: pc-release defaults apply"]
    try:
        return load_release_config(text), []
    except ReleaseConfigError as err:
        return DEFAULT_RELEASE_CONFIG, [
            f"{RELEASE_CONFIG_PATH} at {sha} is invalid, defaults apply: {p}" for p in err.problems
        ]


def runtimes_at(clone: GitClone, sha: str, config: ReleaseConfig) -> tuple[list[str], list[str]]:
    text = _show(clone, sha, config.runtime_matrix)
    if text is None:
        return [], [f"runtime matrix {config.runtime_matrix} is missing at {sha}"]
    try:
        return parse_runtime_matrix(text), []
    except RuntimeMatrixError as err:
        return [], [f"runtime matrix {config.runtime_matrix} at {sha}: {err}"]


def pipeline_tree(
    gitlab: GitLabResource, pipeline: PipelineInfo
) -> tuple[list[JobInfo], list[downstream_rules.Downstream]]:
    """The pipeline's jobs with those of every child pipeline below it, and each trigger job's downstream.

    GitLab lists trigger jobs apart from the jobs (`/bridges`): two requests per pipeline, one more per child.
    """
    jobs: list[JobInfo] = []
    downstream: list[downstream_rules.Downstream] = []
    queue, seen = [pipeline.id], {pipeline.id}
    while queue:
        pipeline_id = queue.pop(0)
        jobs += gitlab.pipeline_jobs(pipeline_id, include_retried=True)
        for bridge, _ in stage_rules.latest_attempts(gitlab.pipeline_bridges(pipeline_id)):
            found = downstream_rules.downstream_of(bridge, pipeline.project_id)
            downstream.append(found)
            if found.followed and found.pipeline_id is not None and found.pipeline_id not in seen:
                seen.add(found.pipeline_id)
                queue.append(found.pipeline_id)
    return jobs, downstream


def observe(watched: WatchedPipeline, gitlab: GitLabResource, clone: GitClone) -> Observation:
    """Three GitLab requests (the pipeline, its jobs with retried attempts, its trigger jobs), two more per child
    pipeline, and two `git show`s."""
    pipeline = gitlab.pipeline(watched.pipeline_id)
    jobs, downstream = pipeline_tree(gitlab, pipeline)
    config, notes = release_config_at(clone, watched.sha)
    runtimes, matrix_notes = runtimes_at(clone, watched.sha, config)
    stages = stage_rules.pipeline_stages(
        config,
        jobs,
        runtimes=runtimes,
        mode=watched.mode,
        profile=watched.profile,
        pipeline_status=pipeline.status,
        downstream_status={d.pipeline_id: d.pipeline_status or "" for d in downstream if d.followed and d.pipeline_id},
    )
    _, unwatched = stage_rules.group_by_stage(config, jobs)
    if unwatched:
        names = ", ".join(f"{job.name} ({job.stage})" for job in unwatched)
        matrix_notes.append(
            f"jobs in GitLab stages no pc-release stage watches (see `stages` in .pc-release.yaml): {names}"
        )
    matrix_notes += downstream_rules.not_followed(downstream)
    return Observation(watched, pipeline, config, runtimes, stages, notes + matrix_notes, downstream)


def read_new_digests(observation: Observation, gitlab: GitLabResource) -> None:
    """Read the digest artifact of every publish job that passed since the last look.

    One request per publish job attempt, ever: a digest once read is kept in the cursor.
    """
    config, watched = observation.config, observation.watched
    for runtime in observation.plan.expected:
        job = observation.publish_job(runtime)
        if job is None or job.state != "passed":
            continue
        known = watched.digests.get(runtime)
        if known is not None and known.job_id == job.id:
            continue
        watched.digests[runtime] = _digest_read(gitlab, config, runtime, job)


def _digest_read(gitlab: GitLabResource, config: ReleaseConfig, runtime: str, job: stage_rules.JobRow) -> DigestRead:
    """The digest from the publish job's copy of its dotenv report in the job's artifacts (what GitLab serves)."""
    artifact = config.digest_artifact
    content = gitlab.job_artifact(job.id, artifact)
    if content is None:
        return DigestRead(
            job_id=job.id,
            digest=None,
            problem=f"{job.name} has no downloadable {artifact}: GitLab serves a dotenv report for download only "
            "when `artifacts:paths` lists it too",
        )
    try:
        values = parse_dotenv_report(content)
    except DotenvError as err:
        return DigestRead(job_id=job.id, digest=None, problem=f"{job.name}'s {artifact} is not a dotenv report: {err}")
    return DigestRead(job_id=job.id, digest=values.get(config.digest_variable_for(runtime)))


def stage_verdicts(observation: Observation, stage: str) -> list[Verdict]:
    """The verdicts of the checks on one stage asset, from the current observation."""
    outcome = observation.stage(stage)
    verdicts = []
    if outcome.ran or outcome.status in ("failed", "missing"):
        verdicts.append(gate_rules.stage_passed(outcome))
    if stage == "package":
        verdicts.append(
            gate_rules.runtimes_have_publish_jobs(
                observation.config, observation.runtimes, outcome, observation.watched.profile
            )
        )
    if stage == "digest_fan_in" and (outcome.ran or outcome.status == "missing"):
        verdicts.append(
            gate_rules.runtime_digests_present(
                observation.config, observation.plan, observation.digests(), observation.digest_problems()
            )
        )
    return verdicts


def pipeline_gate_verdicts(observation: Observation) -> list[Verdict]:
    """pc-release's own gates over the pipeline, beyond its jobs: publish coverage, digests, image conformance."""
    verdicts = [
        v for stage in stage_rules.STAGES for v in stage_verdicts(observation, stage) if v.rule != "stage_passed"
    ]
    if observation.watched.conformance is not None:
        verdicts.append(observation.watched.conformance)
    return verdicts


def final_verdict(observation: Observation) -> Verdict:
    failed = [v.rule for v in pipeline_gate_verdicts(observation) if not v.ok]
    return record_rules.final_validation(
        observation.watched.kind, observation.pipeline, observation.stages, failed, observation.downstream
    )
