"""Release-readiness rules: the policy's common release failure classes, judged on the candidate SHA before
the release branch moves. Facts in (records from pc_release.readiness), one verdict per rule out."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pc_release.models import Verdict
from pc_release.readiness.models import (
    CANDIDATE_SCHEMA,
    CANDIDATE_SCHEMA_AGAIN,
    CANDIDATE_SEED,
    RELEASED_SCHEMA,
    CodegenOutcome,
    PublishFacts,
    RemoteState,
    RuntimeFindings,
    SchemaRun,
    SqlFailure,
    SqlStep,
    WorktreeState,
)

RUNTIME_FIX = "update the runtime matrix, the publish job graph and the digest fan-in together, on master"
SCHEMA_FIX = "make db_schema_v1.sql safe for existing databases and keep scripts/seed.sql aligned, on master"
SOURCE_FIX = "fix it on the source branch, merge to master and promote the new SHA; never patch the release branch"

_EVIDENCE_ITEMS = 50


def _items(values: Sequence[object]) -> list[str]:
    shown = [str(value) for value in values[:_EVIDENCE_ITEMS]]
    if len(values) > _EVIDENCE_ITEMS:
        shown.append(f"... and {len(values) - _EVIDENCE_ITEMS} more")
    return shown


NOT_APPLICABLE = "not applicable: "


def _not_applicable(rule: str, reason: str) -> Verdict:
    """The check had nothing to judge at this SHA (no runtimes, no schema, ...): it does not block, nor pass."""
    return Verdict(rule=rule, status="not_applicable", reason=f"{NOT_APPLICABLE}{reason}")


def _not_evaluated(rule: str, reason: str, **evidence: str) -> Verdict:
    return Verdict(rule=rule, status="not_evaluated", reason=f"not evaluated: {reason}", evidence=dict(evidence))


# --- runtime matrix, publish jobs, digest fan-in -------------------------------------------------------------


def _noting_unseen_includes(verdict: Verdict, facts: PublishFacts) -> Verdict:
    """A block that may come from jobs pc-release could not see (read offline, GitLab's merge not at hand) says so,
    why, and what to check."""
    if verdict.ok or not facts.unresolved_includes:
        return verdict
    note = (
        f" Note: .gitlab-ci.yml also includes {', '.join(facts.unresolved_includes)}, which pc-release does not "
        "fetch, so jobs defined there were not seen; compare with GitLab's merged configuration (pipeline editor, "
        "Full configuration) before acting on this finding"
    )
    evidence = {**verdict.evidence, "unresolved_includes": list(facts.unresolved_includes)}
    if facts.ci_lint_unavailable:
        note += f" ({facts.ci_lint_unavailable})"
        evidence["ci_lint_unavailable"] = facts.ci_lint_unavailable
    return verdict.model_copy(update={"reason": verdict.reason + note, "evidence": evidence})


RUNTIME_PUBLISH_JOBS = "runtime_publish_jobs"


def runtime_publish_jobs(facts: PublishFacts) -> Verdict:
    return _noting_unseen_includes(_runtime_publish_jobs(facts), facts)


RUNTIME_DIGEST_FAN_IN = "runtime_digest_fan_in"


def runtime_digest_fan_in(facts: PublishFacts) -> Verdict:
    return _noting_unseen_includes(_runtime_digest_fan_in(facts), facts)


def _runtime_publish_jobs(facts: PublishFacts) -> Verdict:
    rule = RUNTIME_PUBLISH_JOBS
    if facts.status == "not_applicable":
        return _not_applicable(rule, facts.reason)
    if facts.status == "broken":
        return Verdict(
            rule=rule, ok=False, reason=f"{facts.reason}. Fix: {RUNTIME_FIX}", evidence={"problem": facts.reason}
        )
    published, filtered, missing = [], [], []
    for runtime in facts.runtimes:
        name = facts.expected_jobs[runtime]
        job = facts.job(name)
        if runtime in facts.filters:
            filtered.append(f"{runtime}: {facts.filters[runtime]}")
        elif job is None:
            missing.append(f"{runtime}: no job {name!r} in the release pipeline")
        elif job.when == "manual":
            missing.append(f"{runtime}: {name} ({job.location}) is manual, so nothing publishes {runtime} on its own")
        else:
            published.append(f"{runtime}: {name} ({job.location})")
    evidence: dict[str, str | int | bool | list[str]] = {
        "matrix": facts.matrix_file,
        "profile": facts.profile,
        "published": published,
        "filtered": filtered,
    }
    if missing:
        evidence["missing"] = missing
        return Verdict(
            rule=rule,
            ok=False,
            reason=f"{len(missing)} runtime(s) of {facts.matrix_file} have no publish job and no filter: "
            f"{'; '.join(missing)}. Fix: {RUNTIME_FIX} (or declare an intentional filter in publish_filters)",
            evidence=evidence,
        )
    if facts.unmatched_publish_jobs:
        evidence["unmatched_publish_jobs"] = facts.unmatched_publish_jobs
        return Verdict(
            rule=rule,
            status="warning",
            reason=f"every runtime is published or filtered, but {', '.join(facts.unmatched_publish_jobs)} publish "
            f"a runtime that is not in {facts.matrix_file}",
            evidence=evidence,
        )
    filtered_names = ", ".join(runtime for runtime in facts.runtimes if runtime in facts.filters)
    return Verdict(
        rule=rule,
        ok=True,
        reason=f"{len(published)} runtime(s) have publish jobs, {len(filtered)} filtered on purpose"
        f"{f' ({filtered_names})' if filtered else ''} ({facts.profile} profile)",
        evidence=evidence,
    )


def _receives(facts: PublishFacts, fan_in: str, publish: str) -> bool:
    receiver, sender = facts.job(fan_in), facts.job(publish)
    if receiver is None or sender is None:
        return False
    if receiver.receives_from is not None:
        return publish in receiver.receives_from
    return facts.stages.index(sender.stage) < facts.stages.index(receiver.stage)


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """An `artifacts:paths` glob as the runner matches it: `**` crosses directories, `*` and `?` do not."""
    pattern = pattern.removeprefix("./").strip("/")
    if pattern in ("", "."):
        return re.compile(".*")  # the whole project directory
    parts = re.split(r"(\*\*/?|\*|\?)", pattern)
    wildcard = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    body = "".join(wildcard.get(part, re.escape(part)) for part in parts)
    return re.compile(rf"{body}(?:/.*)?")  # a matching directory brings everything under it


def _in_artifact_paths(path: str, patterns: Sequence[str]) -> bool:
    """Whether the job's artifact archive holds `path` (relative to the project directory)."""
    return any(_glob_regex(pattern).fullmatch(path) for pattern in patterns)


def _runtime_digest_fan_in(facts: PublishFacts) -> Verdict:
    rule = RUNTIME_DIGEST_FAN_IN
    if facts.status == "not_applicable":
        return _not_applicable(rule, facts.reason)
    if facts.status == "broken":
        return Verdict(
            rule=rule, ok=False, reason=f"{facts.reason}. Fix: {RUNTIME_FIX}", evidence={"problem": facts.reason}
        )
    publish_jobs = {
        runtime: job
        for runtime in facts.runtimes
        if runtime not in facts.filters and (job := facts.job(facts.expected_jobs[runtime])) is not None
    }
    published = list(publish_jobs)
    if not published:
        return _not_applicable(rule, "no runtime is published by this release pipeline")
    if not facts.fan_in_jobs:
        return Verdict(
            rule=rule,
            ok=False,
            reason="the release pipeline has no digest fan-in job (a job in a stage mapped to digest_fan_in, e.g. "
            f"platform_control_assemble_runtime_digests), so no runtime digest is assembled. Fix: {RUNTIME_FIX}",
            evidence={"published": published},
        )
    problems: list[str] = []
    for runtime, publish in publish_jobs.items():
        variable = facts.digest_variables.get(runtime, "")
        if facts.digest_artifact not in publish.dotenv_reports:
            problems.append(
                f"{publish.name} ({publish.location}) does not report {facts.digest_artifact} as a dotenv artifact, "
                f"so {variable} never reaches the fan-in"
            )
            continue
        if not _in_artifact_paths(facts.digest_artifact, publish.artifact_paths):
            problems.append(
                f"{publish.name} ({publish.location}) reports {facts.digest_artifact} as a dotenv report only: "
                f"GitLab serves it for download only when `artifacts:paths` lists it too, so pc-release cannot read "
                f"{variable} from {publish.name}; add {facts.digest_artifact} to its artifacts:paths"
            )
        for fan_in in filter(None, map(facts.job, facts.fan_in_jobs)):
            if not _receives(facts, fan_in.name, publish.name):
                via = (
                    f"its needs/dependencies are {', '.join(fan_in.receives_from) or '(none)'}"
                    if fan_in.receives_from is not None
                    else f"its stage {fan_in.stage} does not come after {publish.stage}"
                )
                problems.append(
                    f"{fan_in.name} ({fan_in.location}) does not receive {publish.name}'s {facts.digest_artifact} "
                    f"({variable}): {via}"
                )
    evidence: dict[str, str | int | bool | list[str]] = {
        "fan_in_jobs": facts.fan_in_jobs,
        "published": published,
        "digest_artifact": facts.digest_artifact,
    }
    if problems:
        evidence["missing_snippets"] = problems
        return Verdict(
            rule=rule,
            ok=False,
            reason=f"digest snippets that would be missing at the fan-in: {'; '.join(problems)}. Fix: {RUNTIME_FIX}",
            evidence=evidence,
        )
    return Verdict(
        rule=rule,
        ok=True,
        reason=f"{', '.join(facts.fan_in_jobs)} receive(s) the digest snippet of all {len(published)} published "
        "runtime(s)",
        evidence=evidence,
    )


# --- findings-based rules -----------------------------------------------------------------------------------


def _findings_verdict(rule: str, findings: RuntimeFindings, what: str, fix: str) -> Verdict:
    if not findings.applicable:
        return _not_applicable(rule, findings.reason)
    evidence: dict[str, str | int | bool | list[str]] = {"checked": findings.checked}
    if findings.notes:
        evidence["notes"] = findings.notes
    if findings.findings:
        evidence["findings"] = _items(findings.findings)
        return Verdict(
            rule=rule,
            ok=False,
            reason=f"{len(findings.findings)} {what}: {'; '.join(map(str, findings.findings[:5]))}"
            f"{' ...' if len(findings.findings) > 5 else ''}. Fix: {fix}",
            evidence=evidence,
        )
    return Verdict(rule=rule, ok=True, reason=f"no {what} ({', '.join(findings.checked)})", evidence=evidence)


OCI_LABELS = "oci_labels"


def oci_labels(findings: RuntimeFindings) -> Verdict:
    return _findings_verdict(
        OCI_LABELS,
        findings,
        "OCI label problem(s)",
        "fix the runtime Dockerfile/build path (final stage: LABEL from ARG VERSION/REVISION/CREATED), not the "
        "publish check",
    )


RUNTIME_FILES_PRESENT = "runtime_files_present"


def runtime_files_present(findings: RuntimeFindings) -> Verdict:
    return _findings_verdict(RUNTIME_FILES_PRESENT, findings, "required runtime file(s) missing", SOURCE_FIX)


RUNTIME_CONFIG_KEYS_PRESENT = "runtime_config_keys_present"


def runtime_config_keys_present(findings: RuntimeFindings) -> Verdict:
    return _findings_verdict(RUNTIME_CONFIG_KEYS_PRESENT, findings, "runtime config problem(s)", SOURCE_FIX)


# --- schema and seed ------------------------------------------------------------------------------------------


def _failure_evidence(step: SqlStep, failure: SqlFailure) -> dict[str, str | int | bool | list[str]]:
    evidence: dict[str, str | int | bool | list[str]] = {
        "step": step.name,
        "file": failure.file,
        "line": failure.line,
        "sha": step.sha,
        "statement": failure.statement,
        "error": failure.message,
        "sqlstate": failure.sqlstate,
    }
    for key in ("constraint", "table", "column", "detail", "hint"):
        if value := getattr(failure, key):
            evidence[key] = value
    return evidence


def _schema_precondition(rule: str, run: SchemaRun, *, needs_database: bool = True) -> Verdict | None:
    if not run.applicable:
        return _not_applicable(rule, run.reason)
    if run.problems:
        return Verdict(
            rule=rule,
            ok=False,
            reason=f"{'; '.join(map(str, run.problems))}. Fix: {SCHEMA_FIX}",
            evidence={"problems": _items(run.problems)},
        )
    if needs_database and run.database_error:
        return Verdict(
            rule=rule,
            ok=False,
            reason=f"could not apply the schema on PostgreSQL: {run.database_error}",
            evidence={"database_error": run.database_error},
        )
    return None


SCHEMA_STATIC_LINT = "schema_static_lint"


def schema_static_lint(run: SchemaRun) -> Verdict:
    rule = SCHEMA_STATIC_LINT
    if (blocked := _schema_precondition(rule, run, needs_database=False)) is not None:
        return blocked
    if run.lint:
        return Verdict(
            rule=rule,
            ok=False,
            reason=f"{len(run.lint)} statement(s) only safe on a fresh database: "
            f"{'; '.join(map(str, run.lint[:5]))}{' ...' if len(run.lint) > 5 else ''}. Fix: {SCHEMA_FIX}",
            evidence={"findings": _items(run.lint), "baseline": run.baseline},
        )
    return Verdict(
        rule=rule,
        ok=True,
        reason=f"no fresh-database-only statements (compared with {run.baseline})",
        evidence={"baseline": run.baseline},
    )


def _failed(step: SqlStep) -> SqlFailure | None:
    return step.failure if step.status == "failed" else None


SCHEMA_SAFE_FOR_EXISTING_DATABASE = "schema_safe_for_existing_database"


def schema_safe_for_existing_database(run: SchemaRun) -> Verdict:
    rule = SCHEMA_SAFE_FOR_EXISTING_DATABASE
    if (blocked := _schema_precondition(rule, run)) is not None:
        return blocked
    schema = run.step("upgrade", CANDIDATE_SCHEMA)
    seed = run.step("upgrade", CANDIDATE_SEED)
    if schema is not None and (failure := _failed(schema)) is not None:
        return Verdict(
            rule=rule,
            ok=False,
            reason=f"the candidate schema fails on the database {run.baseline} left behind: {failure.describe()}. "
            f"Fix: {SCHEMA_FIX}",
            evidence={**_failure_evidence(schema, failure), "baseline": run.baseline},
        )
    if seed is not None and (failure := _failed(seed)) is not None and not failure.constraint_violation:
        return Verdict(
            rule=rule,
            ok=False,
            reason=f"the schema applies on the database {run.baseline} left behind, but leaves it without what "
            f"the candidate seed needs: {failure.describe()}. The change only works on a fresh database (CREATE "
            "TABLE IF NOT EXISTS skips existing tables): backfill with ALTER TABLE ... ADD COLUMN IF NOT EXISTS. "
            f"Fix: {SCHEMA_FIX}",
            evidence={**_failure_evidence(seed, failure), "baseline": run.baseline},
        )
    if not run.baseline_ok:
        failed = next((step for step in run.upgrade if step.failure is not None), None)
        detail = failed.failure.describe() if failed is not None and failed.failure is not None else run.baseline
        return _not_evaluated(
            rule, f"the released SHA's own files do not apply on an empty database ({detail})", baseline=run.baseline
        )
    if run.step("upgrade", RELEASED_SCHEMA) is None:
        return _not_applicable(rule, f"no released database to upgrade: {run.baseline}")
    return Verdict(
        rule=rule,
        ok=True,
        reason=f"candidate schema and seed apply on the database {run.baseline} left behind",
        evidence={"baseline": run.baseline},
    )


SCHEMA_IDEMPOTENT = "schema_idempotent"


def schema_idempotent(run: SchemaRun) -> Verdict:
    rule = SCHEMA_IDEMPOTENT
    if (blocked := _schema_precondition(rule, run)) is not None:
        return blocked
    again = run.step("upgrade", CANDIDATE_SCHEMA_AGAIN)
    if again is not None and (failure := _failed(again)) is not None:
        return Verdict(
            rule=rule,
            ok=False,
            reason=f"the candidate schema fails when applied a second time (every deploy applies it): "
            f"{failure.describe()}. Fix: {SCHEMA_FIX}",
            evidence=_failure_evidence(again, failure),
        )
    if again is None or again.status != "applied":
        return _not_evaluated(rule, "the candidate schema did not apply once (see schema_safe_for_existing_database)")
    return Verdict(rule=rule, ok=True, reason="the candidate schema applies twice in a row without error")


SEED_ALLOWED_BY_DEPLOYED_CONSTRAINTS = "seed_allowed_by_deployed_constraints"


def seed_allowed_by_deployed_constraints(run: SchemaRun) -> Verdict:
    rule = SEED_ALLOWED_BY_DEPLOYED_CONSTRAINTS
    if (blocked := _schema_precondition(rule, run)) is not None:
        return blocked
    seed = run.step("upgrade", CANDIDATE_SEED)
    if seed is None or seed.status == "absent":
        return _not_applicable(rule, "no seed file at the SHA")
    failure = _failed(seed)
    if failure is not None and failure.constraint_violation:
        named = f"constraint {failure.constraint}" if failure.constraint else "a constraint"
        return Verdict(
            rule=rule,
            ok=False,
            reason=f"the candidate seed violates {named} of the upgraded released database: {failure.describe()}. "
            f"Refresh the constraint in the schema (DROP CONSTRAINT IF EXISTS + ADD CONSTRAINT with the new value) "
            f"before the seed uses it; {SCHEMA_FIX}",
            evidence={**_failure_evidence(seed, failure), "baseline": run.baseline},
        )
    if failure is not None:
        return _not_evaluated(rule, "the seed failed for a schema reason (see schema_safe_for_existing_database)")
    if seed.status != "applied":
        return _not_evaluated(rule, "the candidate schema did not apply (see schema_safe_for_existing_database)")
    return Verdict(
        rule=rule,
        ok=True,
        reason=f"the candidate seed applies on the upgraded database of {run.baseline}",
        evidence={"baseline": run.baseline},
    )


SCHEMA_FRESH_DATABASE = "schema_fresh_database"


def schema_fresh_database(run: SchemaRun) -> Verdict:
    rule = SCHEMA_FRESH_DATABASE
    if (blocked := _schema_precondition(rule, run)) is not None:
        return blocked
    for step in run.fresh:
        if (failure := _failed(step)) is not None:
            return Verdict(
                rule=rule,
                ok=False,
                reason=f"{step.name} fails on a fresh database: {failure.describe()}. Fix: {SCHEMA_FIX}",
                evidence=_failure_evidence(step, failure),
            )
    applied = [f"{step.file} ({step.statements} statements)" for step in run.fresh if step.status == "applied"]
    return Verdict(
        rule=rule,
        ok=True,
        reason=f"a fresh database takes {' then '.join(applied)}",
        evidence={"applied": applied},
    )


# --- generated artifacts, worktree, remotes -------------------------------------------------------------------


GENERATED_ARTIFACTS_FRESH = "generated_artifacts_fresh"


def generated_artifacts_fresh(outcome: CodegenOutcome) -> Verdict:
    rule = GENERATED_ARTIFACTS_FRESH
    fix = "regenerate the artifacts from the API contract and commit them on master"
    if not outcome.applicable:
        return _not_applicable(rule, outcome.reason)
    command = " ".join(outcome.command)
    if outcome.error:
        evidence: dict[str, str | int | bool | list[str]] = {"command": command, "error": outcome.error}
        if outcome.output_tail:
            evidence["output"] = outcome.output_tail
        return Verdict(
            rule=rule,
            ok=False,
            reason=f"codegen `{command}` could not prove the artifacts fresh: {outcome.error}. Fix the generator on "
            f"master, then {fix}",
            evidence=evidence,
        )
    if outcome.stale:
        return Verdict(
            rule=rule,
            ok=False,
            reason=f"`{command}` changes committed generated files: {', '.join(outcome.stale)}. Fix: {fix}",
            evidence={"command": command, "stale": _items(outcome.stale), "diff": outcome.diff},
        )
    return Verdict(rule=rule, ok=True, reason=f"`{command}` leaves every generated path as committed")


RELEASE_WORKTREE_CLEAN = "release_worktree_clean"


def release_worktree_clean(state: WorktreeState) -> Verdict:
    rule = RELEASE_WORKTREE_CLEAN
    if not state.configured:
        return _not_applicable(rule, "no release worktree configured (PC_RELEASE_RELEASE_WORKTREE)")
    if state.error:
        return Verdict(rule=rule, ok=False, reason=f"{state.path}: {state.error}", evidence={"path": state.path})
    if state.dirty or state.unpushed:
        parts = []
        if state.dirty:
            parts.append(f"{len(state.dirty)} uncommitted change(s): {', '.join(state.dirty[:10])}")
        if state.unpushed:
            parts.append(f"{len(state.unpushed)} commit(s) pushed nowhere: {', '.join(state.unpushed[:10])}")
        return Verdict(
            rule=rule,
            ok=False,
            reason=f"manual release-only edits pending in {state.path}: {'; '.join(parts)}. Fix: {SOURCE_FIX}",
            evidence={"path": state.path, "uncommitted": _items(state.dirty), "unpushed": _items(state.unpushed)},
        )
    return Verdict(rule=rule, ok=True, reason=f"{state.path} has no pending edits", evidence={"path": state.path})


SOURCE_ON_CANONICAL_REMOTES = "source_on_canonical_remotes"


def source_on_canonical_remotes(states: Sequence[RemoteState], *, dev_test: bool, master_branch: str) -> Verdict:
    rule = SOURCE_ON_CANONICAL_REMOTES
    if dev_test:
        return _not_applicable(rule, "a dev-test deploy may promote a SHA outside master")
    if not states:
        return _not_applicable(rule, "no extra canonical remotes configured (PC_RELEASE_CANONICAL_REMOTES)")
    missing = [
        f"{state.remote}: {state.error}"
        if state.error
        else f"{state.remote}: {master_branch} is at {state.master_sha}, which does not contain the SHA"
        for state in states
        if not state.contains
    ]
    remotes = [state.remote for state in states]
    if missing:
        return Verdict(
            rule=rule,
            ok=False,
            reason=f"the SHA is not on {master_branch} of every canonical remote: {'; '.join(missing)}. Fix: push "
            f"{master_branch} to every canonical remote before touching the release branch",
            evidence={"remotes": remotes, "missing": missing},
        )
    return Verdict(
        rule=rule,
        ok=True,
        reason=f"the SHA is on {master_branch} of {', '.join(remotes)}",
        evidence={"remotes": remotes},
    )


# Check name -> what it guards and the owning-layer fix (the policy's "fix failures at the owning layer").
READINESS_CHECKS: dict[str, str] = {
    RUNTIME_PUBLISH_JOBS: "Every runtime in the runtime matrix has its publish job in the release pipeline, or an "
    f"intentional filter in .pc-release.yaml publish_filters. Fix: {RUNTIME_FIX}.",
    RUNTIME_DIGEST_FAN_IN: "Every published runtime's publish job reports its digest snippet as a dotenv artifact "
    "that `artifacts:paths` also lists (GitLab serves only those for download, and pc-release reads the digest "
    f"from there), and the digest fan-in job receives it. Fix: {RUNTIME_FIX}.",
    OCI_LABELS: "Each runtime Dockerfile's final stage sets org.opencontainers.image.version, .revision and "
    ".created (from ARGs, or literals with created in RFC 3339). Fix the runtime Dockerfile/build path, not the "
    "publish check.",
    SCHEMA_STATIC_LINT: "The schema uses IF NOT EXISTS for CREATE TABLE/INDEX and ADD COLUMN, refreshes "
    "constraints with DROP CONSTRAINT IF EXISTS + ADD CONSTRAINT, and backfills what changed inside CREATE TABLE. "
    f"Fix: {SCHEMA_FIX}.",
    SCHEMA_SAFE_FOR_EXISTING_DATABASE: "On a real PostgreSQL holding the released SHA's schema and seed, the "
    f"candidate schema and seed apply. Fix: {SCHEMA_FIX}.",
    SCHEMA_IDEMPOTENT: f"The candidate schema applies a second time on the same database. Fix: {SCHEMA_FIX}.",
    SEED_ALLOWED_BY_DEPLOYED_CONSTRAINTS: "The candidate seed violates no constraint of the upgraded released "
    "database (a new enum/check value must be allowed by a refreshed constraint first). Fix: refresh the "
    f"constraint in db_schema_v1.sql before the seed uses the value; {SCHEMA_FIX}.",
    SCHEMA_FRESH_DATABASE: f"The candidate schema and seed apply on a fresh database. Fix: {SCHEMA_FIX}.",
    GENERATED_ARTIFACTS_FRESH: "The declared codegen command, run on the exact SHA, leaves the generated paths as "
    "committed. Fix: regenerate and commit the generated artifacts (SDK) from the API contract on master.",
    RUNTIME_FILES_PRESENT: "The files each runtime declares as required (bootstrap/config/runtime) exist at the "
    f"SHA, not only in local worktrees. Fix: {SOURCE_FIX}.",
    RUNTIME_CONFIG_KEYS_PRESENT: "Every config key the runtime manifests read exists in the runtime's config at "
    f"the SHA. Fix: {SOURCE_FIX}.",
    RELEASE_WORKTREE_CLEAN: "The operator's release worktree (PC_RELEASE_RELEASE_WORKTREE) holds no uncommitted "
    f"or unpushed release-only edits. Fix: {SOURCE_FIX}.",
    SOURCE_ON_CANONICAL_REMOTES: "The SHA is on master of every canonical remote (PC_RELEASE_CANONICAL_REMOTES) "
    "before the release branch moves. Fix: push master to every canonical remote, then promote.",
}
