"""pc_release.policy.readiness: one pure verdict per failure class, table-driven over the facts records."""

from __future__ import annotations

import pytest

from pc_release.policy import readiness as rules
from pc_release.readiness.models import (
    CodegenOutcome,
    Finding,
    PublishFacts,
    RemoteState,
    RuntimeFindings,
    SchemaRun,
    SqlFailure,
    SqlStep,
    WorktreeState,
)

R, C = "r" * 40, "c" * 40


def step(name: str, status: str = "applied", failure: SqlFailure | None = None, sha: str = C) -> SqlStep:
    file = "scripts/seed.sql" if "seed" in name else "db_schema_v1.sql"
    return SqlStep(name=name, file=file, sha=sha, status=status, statements=3, failure=failure)


def failure(sqlstate: str, constraint: str = "") -> SqlFailure:
    return SqlFailure(
        file="scripts/seed.sql",
        line=7,
        statement="INSERT INTO t ...",
        sqlstate=sqlstate,
        message="boom",
        constraint=constraint,
        table="t",
    )


def upgrade(*candidate: SqlStep, baseline: bool = True) -> list[SqlStep]:
    released = [step("released schema", sha=R), step("released seed", sha=R)] if baseline else []
    return released + list(candidate)


OK_FRESH = [step("candidate schema"), step("candidate seed")]
OK_UPGRADE = upgrade(step("candidate schema"), step("candidate schema again"), step("candidate seed"))
CHECKS = ("safe", "idempotent", "seed", "fresh")
VERDICTS = {
    "safe": rules.schema_safe_for_existing_database,
    "idempotent": rules.schema_idempotent,
    "seed": rules.seed_allowed_by_deployed_constraints,
    "fresh": rules.schema_fresh_database,
}


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        pytest.param(
            SchemaRun(baseline="released SHA r", upgrade=OK_UPGRADE, fresh=OK_FRESH),
            {"safe": "pass", "idempotent": "pass", "seed": "pass", "fresh": "pass"},
            id="all applied",
        ),
        pytest.param(
            SchemaRun(applicable=False, reason="no schema file"),
            {"safe": "pass", "idempotent": "pass", "seed": "pass", "fresh": "pass"},
            id="not applicable",
        ),
        pytest.param(
            SchemaRun(
                baseline="released SHA r",
                upgrade=upgrade(
                    step("candidate schema", "failed", failure("42P07")),
                    step("candidate schema again", "not_run"),
                    step("candidate seed", "not_run"),
                ),
                fresh=OK_FRESH,
            ),
            {"safe": "block", "idempotent": "warn", "seed": "warn", "fresh": "pass"},
            id="schema fails on the released database",
        ),
        pytest.param(
            SchemaRun(
                baseline="released SHA r",
                upgrade=upgrade(
                    step("candidate schema"),
                    step("candidate schema again", "failed", failure("42701")),
                    step("candidate seed", "not_run"),
                ),
                fresh=OK_FRESH,
            ),
            {"safe": "pass", "idempotent": "block", "seed": "warn", "fresh": "pass"},
            id="not idempotent",
        ),
        pytest.param(
            SchemaRun(
                baseline="released SHA r",
                upgrade=upgrade(
                    step("candidate schema"),
                    step("candidate schema again"),
                    step("candidate seed", "failed", failure("23514", "t_role_check")),
                ),
                fresh=OK_FRESH,
            ),
            {"safe": "pass", "idempotent": "pass", "seed": "block", "fresh": "pass"},
            id="seed value the deployed constraint refuses",
        ),
        pytest.param(
            SchemaRun(
                baseline="released SHA r",
                upgrade=upgrade(
                    step("candidate schema"),
                    step("candidate schema again"),
                    step("candidate seed", "failed", failure("42703")),
                ),
                fresh=OK_FRESH,
            ),
            {"safe": "block", "idempotent": "pass", "seed": "warn", "fresh": "pass"},
            id="seed needs a column only fresh databases get",
        ),
        pytest.param(
            SchemaRun(
                baseline="no released SHA (first release)",
                upgrade=upgrade(
                    step("candidate schema"), step("candidate schema again"), step("candidate seed"), baseline=False
                ),
                fresh=OK_FRESH,
            ),
            {"safe": "pass", "idempotent": "pass", "seed": "pass", "fresh": "pass"},
            id="first release",
        ),
        pytest.param(
            SchemaRun(
                baseline="released SHA r",
                baseline_ok=False,
                upgrade=[
                    step("released schema", "failed", failure("42883"), sha=R),
                    step("released seed", "not_run", sha=R),
                    step("candidate schema"),
                    step("candidate schema again"),
                    step("candidate seed"),
                ],
                fresh=OK_FRESH,
            ),
            {"safe": "warn", "idempotent": "pass", "seed": "pass", "fresh": "pass"},
            id="released files broken",
        ),
        pytest.param(
            SchemaRun(
                baseline="released SHA r",
                upgrade=OK_UPGRADE,
                fresh=[step("candidate schema"), step("candidate seed", "failed", failure("23505", "t_pkey"))],
            ),
            {"safe": "pass", "idempotent": "pass", "seed": "pass", "fresh": "block"},
            id="fresh database fails",
        ),
        pytest.param(
            SchemaRun(baseline="released SHA r", database_error="cannot connect to PostgreSQL: refused"),
            {"safe": "block", "idempotent": "block", "seed": "block", "fresh": "block"},
            id="no database",
        ),
        pytest.param(
            SchemaRun(problems=[Finding(file="scripts/seed.sql", message="absent at the SHA")]),
            {"safe": "block", "idempotent": "block", "seed": "block", "fresh": "block"},
            id="seed file lost",
        ),
    ],
)
def test_schema_verdicts(run, expected):
    outcomes = {}
    for check in CHECKS:
        verdict = VERDICTS[check](run)
        outcomes[check] = "block" if not verdict.ok else "warn" if verdict.warning else "pass"
        if not verdict.ok and "file" in verdict.evidence:
            assert verdict.evidence["line"] == 7
    assert outcomes == expected


def test_seed_verdict_names_the_constraint_and_the_owning_fix():
    run = SchemaRun(
        baseline="released SHA r",
        upgrade=upgrade(
            step("candidate schema"),
            step("candidate schema again"),
            step("candidate seed", "failed", failure("23514", "t_role_check")),
        ),
        fresh=OK_FRESH,
    )
    verdict = rules.seed_allowed_by_deployed_constraints(run)
    assert verdict.evidence["constraint"] == "t_role_check"
    assert (verdict.evidence["file"], verdict.evidence["line"], verdict.evidence["sha"]) == ("scripts/seed.sql", 7, C)
    assert "violates constraint t_role_check" in verdict.reason
    assert "make db_schema_v1.sql safe for existing databases and keep scripts/seed.sql aligned" in verdict.reason


@pytest.mark.parametrize(
    ("lint", "ok"),
    [([], True), ([Finding(file="db.sql", line=3, message="x", rule="create-if-not-exists")], False)],
)
def test_schema_static_lint(lint, ok):
    verdict = rules.schema_static_lint(SchemaRun(baseline="released SHA r", lint=lint))
    assert verdict.ok is ok
    if not ok:
        assert verdict.evidence["findings"] == ["db.sql:3: x"]


@pytest.mark.parametrize(
    ("verdict", "ok", "text"),
    [
        (rules.oci_labels(RuntimeFindings(applicable=False, reason="no runtimes declared")), True, "not applicable"),
        (rules.oci_labels(RuntimeFindings(checked=["api"])), True, "no OCI label problem(s) (api)"),
        (
            rules.oci_labels(RuntimeFindings(checked=["api"], findings=[Finding(file="D", line=2, message="m")])),
            False,
            "1 OCI label problem(s): D:2: m",
        ),
        (
            rules.runtime_files_present(
                RuntimeFindings(checked=["gw"], findings=[Finding(file="gw.py", message="gone")])
            ),
            False,
            "never patch the release branch",
        ),
        (
            rules.generated_artifacts_fresh(CodegenOutcome(applicable=False, reason="no codegen")),
            True,
            "not applicable",
        ),
        (rules.release_worktree_clean(WorktreeState()), True, "not applicable: no release worktree configured"),
        (
            rules.release_worktree_clean(WorktreeState(configured=True, path="/w", error="does not exist")),
            False,
            "/w: does not exist",
        ),
        (
            rules.release_worktree_clean(
                WorktreeState(configured=True, path="/w", dirty=["M a.py"], unpushed=["abc x"])
            ),
            False,
            "1 uncommitted change(s): M a.py; 1 commit(s) pushed nowhere: abc x",
        ),
        (rules.release_worktree_clean(WorktreeState(configured=True, path="/w")), True, "/w has no pending edits"),
        (
            rules.source_on_canonical_remotes([RemoteState(remote="m")], dev_test=True, master_branch="master"),
            True,
            "dev-test deploy",
        ),
        (rules.source_on_canonical_remotes([], dev_test=False, master_branch="master"), True, "not applicable"),
        (
            rules.source_on_canonical_remotes(
                [RemoteState(remote="origin", master_sha=C, contains=True), RemoteState(remote="gh", error="offline")],
                dev_test=False,
                master_branch="master",
            ),
            False,
            "gh: offline",
        ),
        (
            rules.source_on_canonical_remotes(
                [RemoteState(remote="origin", master_sha=C, contains=True)], dev_test=False, master_branch="master"
            ),
            True,
            "on master of origin",
        ),
        (
            rules.runtime_publish_jobs(PublishFacts(status="not_applicable", reason="no runtimes")),
            True,
            "not applicable",
        ),
        (rules.runtime_digest_fan_in(PublishFacts(status="broken", reason="bad yaml")), False, "bad yaml"),
    ],
)
def test_other_verdicts(verdict, ok, text):
    assert verdict.ok is ok
    assert text in verdict.reason


def test_every_check_has_a_description_with_the_owning_layer_fix():
    assert len(rules.READINESS_CHECKS) == 13
    for name, description in rules.READINESS_CHECKS.items():
        assert "Fix" in description, name


def test_a_missing_publish_job_names_the_includes_it_may_hide_in():
    facts = PublishFacts(
        status="ok",
        matrix_file="scripts/ci/platform_control_runtime_matrix.sh",
        runtimes=["api"],
        expected_jobs={"api": "publish:api"},
        unresolved_includes=["project:platform/ci-templates (publish.yml)"],
    )
    verdict = rules.runtime_publish_jobs(facts)
    assert not verdict.ok
    assert "api: no job 'publish:api'" in verdict.reason
    assert (
        "also includes project:platform/ci-templates (publish.yml), which pc-release does not fetch" in verdict.reason
    )
    assert verdict.evidence["unresolved_includes"] == ["project:platform/ci-templates (publish.yml)"]

    assert "ci_lint_unavailable" not in verdict.evidence

    without = rules.runtime_publish_jobs(facts.model_copy(update={"unresolved_includes": []}))
    assert not without.ok and "does not fetch" not in without.reason

    why = "GitLab's CI Lint was not available: [gitlab-transient] GitLab answered 503"
    offline = rules.runtime_publish_jobs(facts.model_copy(update={"ci_lint_unavailable": why}))
    assert offline.reason.endswith(f"before acting on this finding ({why})")
    assert offline.evidence["ci_lint_unavailable"] == why
