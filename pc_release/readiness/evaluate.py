"""Gather every readiness fact about the candidate SHA and judge it with pc_release.policy.readiness."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pc_release.ci.lint import CiLint
from pc_release.errors import ConfigurationError, GitOperationError
from pc_release.models import SourceCommit
from pc_release.policy import readiness as rules
from pc_release.readiness.codegen import check_generated
from pc_release.readiness.dockerfile import oci_label_findings
from pc_release.readiness.git_state import release_worktree_state, remote_master_state
from pc_release.readiness.models import (
    RELEASED_SCHEMA,
    RELEASED_SEED,
    CodegenOutcome,
    Finding,
    PublishFacts,
    ReadinessReport,
    RuntimeFindings,
    SchemaRun,
)
from pc_release.readiness.postgres import SqlFile, postgres_url, run_scenarios
from pc_release.readiness.publish import pipeline_scope, profile_runtimes, publish_facts, runtimes_at
from pc_release.readiness.runtime_files import missing_config_keys, missing_runtime_files
from pc_release.readiness.schema_lint import lint_schema
from pc_release.readiness.tree import TreeAtSha
from pc_release.release_config import (
    DEFAULT_RELEASE_CONFIG,
    RELEASE_CONFIG_PATH,
    ReleaseConfig,
    ReleaseConfigError,
    load_release_config,
)
from pc_release.resources.commands import CommandRunnerResource


@dataclass(frozen=True)
class ReadinessInputs:
    repo: Path
    source: SourceCommit
    release_branch: str
    master_branch: str
    pipeline_variables: Mapping[str, str]
    commands: CommandRunnerResource
    postgres_url: str | None = None
    release_worktree: str | None = None
    canonical_remotes: Sequence[str] = field(default_factory=tuple)
    # GitLab's CI Lint of a SHA (GitLabResource.ci_lint): the configuration GitLab merges, includes resolved.
    ci_lint: Callable[[str], CiLint] | None = None


def release_config_at(tree: TreeAtSha) -> ReleaseConfig:
    """The SHA's `.pc-release.yaml`; the defaults when the repository has none. Invalid config is refused."""
    text = tree.read(RELEASE_CONFIG_PATH)
    if text is None:
        return DEFAULT_RELEASE_CONFIG
    return load_release_config(text, f"{RELEASE_CONFIG_PATH} at {tree.sha[:12]}")


def evaluate(inputs: ReadinessInputs) -> ReadinessReport:
    source = inputs.source
    tree = TreeAtSha(inputs.repo, source.sha)
    config = release_config_at(tree)
    scope = pipeline_scope(source.sha, inputs.release_branch, inputs.master_branch, inputs.pipeline_variables)
    ci_lint = inputs.ci_lint
    lint = (lambda: ci_lint(source.sha)) if ci_lint is not None else None
    facts = publish_facts(tree.read, config, scope, source.request.profile, lint)
    schema = schema_run(inputs, tree, config)
    remotes = [
        remote_master_state(inputs.repo, remote, inputs.master_branch, source.sha)
        for remote in inputs.canonical_remotes
    ]
    verdicts = [
        rules.runtime_publish_jobs(facts),
        rules.runtime_digest_fan_in(facts),
        rules.oci_labels(label_findings(tree, config, source.request.profile, facts)),
        rules.schema_static_lint(schema),
        rules.schema_safe_for_existing_database(schema),
        rules.schema_idempotent(schema),
        rules.seed_allowed_by_deployed_constraints(schema),
        rules.schema_fresh_database(schema),
        rules.generated_artifacts_fresh(codegen_outcome(inputs.commands, inputs.repo, source.sha, config)),
        rules.runtime_files_present(missing_runtime_files(tree, config)),
        rules.runtime_config_keys_present(missing_config_keys(tree, config)),
        rules.release_worktree_clean(release_worktree_state(inputs.release_worktree)),
        rules.source_on_canonical_remotes(
            remotes, dev_test=source.request.dev_test, master_branch=inputs.master_branch
        ),
    ]
    return ReadinessReport(sha=source.sha, released_sha=source.previous_release_sha, verdicts=verdicts)


def label_findings(tree: TreeAtSha, config: ReleaseConfig, profile: str, facts: PublishFacts) -> RuntimeFindings:
    """OCI labels of every runtime this release builds (filtered runtimes are not built)."""
    runtimes, problem = runtimes_at(tree.read, config)
    if runtimes is None:
        if facts.status == "not_applicable":
            return RuntimeFindings(applicable=False, reason=facts.reason)
        return RuntimeFindings(applicable=False, reason=f"{problem} (see runtime_publish_jobs)")
    built = [
        runtime for runtime in profile_runtimes(runtimes, config, profile) if runtime not in config.publish_filters
    ]
    if not built:
        return RuntimeFindings(applicable=False, reason="no runtime is built by this release")
    findings: list[Finding] = []
    for runtime in built:
        path = config.dockerfile_for(runtime)
        text = tree.read(path)
        if text is None:
            findings.append(Finding(file=path, rule="dockerfile-missing", message=f"Dockerfile of {runtime} absent"))
        else:
            findings += oci_label_findings(path, text)
    return RuntimeFindings(checked=built, findings=findings)


def codegen_outcome(commands: CommandRunnerResource, repo: Path, sha: str, config: ReleaseConfig) -> CodegenOutcome:
    if config.codegen is None:
        return CodegenOutcome(applicable=False, reason="no codegen declared in .pc-release.yaml")
    return check_generated(commands, repo, sha, config.codegen)


def _released_files(inputs: ReadinessInputs, config: ReleaseConfig) -> tuple[SqlFile | None, SqlFile | None, str]:
    """(released schema, released seed, how the released database is described)."""
    released_sha = inputs.source.previous_release_sha
    if released_sha is None:
        return None, None, "no released SHA (first release)"
    released = TreeAtSha(inputs.repo, released_sha)
    try:
        released_config = release_config_at(released)
    except ReleaseConfigError:
        released_config = config
    schema_path, seed_path = released_config.database.schema_file, released_config.database.seed_file
    schema = SqlFile(schema_path, released_sha, released.read(schema_path))
    seed = SqlFile(seed_path, released_sha, released.read(seed_path))
    if schema.text is None:
        return None, None, f"released SHA {released_sha[:12]}, which has no {schema_path}"
    present = [path for path, text in ((schema_path, schema.text), (seed_path, seed.text)) if text is not None]
    return schema, seed, f"released SHA {released_sha[:12]} ({' + '.join(present)})"


def schema_run(inputs: ReadinessInputs, tree: TreeAtSha, config: ReleaseConfig) -> SchemaRun:
    schema_path, seed_path = config.database.schema_file, config.database.seed_file
    try:
        released_schema, released_seed, baseline = _released_files(inputs, config)
    except GitOperationError as err:
        released_schema, released_seed, baseline = None, None, f"released SHA unreadable ({err.detail})"
    declared = "database" in config.model_fields_set
    schema = SqlFile(schema_path, tree.sha, tree.read(schema_path))
    seed = SqlFile(seed_path, tree.sha, tree.read(seed_path))
    problems = []
    for sql, released in ((schema, released_schema), (seed, released_seed)):
        if sql.text is None and (declared or (released is not None and released.text is not None)):
            why = "declared in .pc-release.yaml" if declared else f"present at the released SHA {baseline}"
            problems.append(Finding(file=sql.path, rule="schema-file-missing", message=f"absent at the SHA ({why})"))
    if problems:
        return SchemaRun(problems=problems, baseline=baseline)
    if schema.text is None:
        return SchemaRun(applicable=False, reason=f"no schema file ({schema_path} absent at the SHA)")
    lint = lint_schema(schema_path, schema.text, released_schema.text if released_schema else None)
    released_steps = (
        [(RELEASED_SCHEMA, released_schema), (RELEASED_SEED, released_seed)]
        if released_schema is not None and released_seed is not None
        else []
    )
    try:
        with postgres_url(inputs.postgres_url) as url:
            upgrade, baseline_ok, fresh = run_scenarios(url, released_steps, schema, seed)
    except ConfigurationError as err:
        return SchemaRun(baseline=baseline, lint=lint, database_error=err.detail)
    return SchemaRun(baseline=baseline, baseline_ok=baseline_ok, upgrade=upgrade, fresh=fresh, lint=lint)
