"""Each release failure class of the policy, committed to the sample platform repo on master with green CI,
is caught by a release_readiness check in promote_release: the check fails with evidence naming the file,
line or job, and nothing is pushed or triggered. The clean sample passes every check and is promoted."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from pc_release.policy.readiness import READINESS_CHECKS
from pc_release_tests.gitworld import GitWorld, git
from pc_release_tests.promotion_harness import Outcome, promote, release_pipelines

# The preflight is not under test here; skipping it (as the policy allows) keeps these runs short.
CONFIG = {"skip_local_preflight": True}


def edit(world: GitWorld, path: str, old: str, new: str) -> None:
    file = world.clone / path
    text = file.read_text()
    assert old in text, f"the sample's {path} changed: {old!r} not found"
    file.write_text(text.replace(old, new, 1))


def land_on_master(world: GitWorld, server, message: str, *, delete: tuple[str, ...] = ()) -> str:
    """Commit the clone's changes, push master and make its CI green: the SHA is promotable by every other gate."""
    for path in delete:
        git(world.clone, "rm", "-q", path)
    git(world.clone, "add", "-A")
    git(world.clone, "commit", "-q", "-m", message)
    world.push("master")
    head = git(world.clone, "rev-parse", "HEAD")
    pipeline = server.create_pipeline("master", sha=head)
    server.set_all_jobs_status(pipeline["id"], "success")
    return head


def evaluation(out: Outcome, name: str) -> dg.AssetCheckEvaluation:
    found = [event for event in out.result.get_asset_check_evaluations() if event.check_name == name]
    assert len(found) == 1, f"check {name} evaluated {len(found)} times\n{out.summary.text}"
    return found[0]


def evidence(out: Outcome, name: str) -> dict[str, object]:
    """The check's metadata as plain values (lists come back from their JSON metadata)."""
    return {key: getattr(entry, "value", entry) for key, entry in evaluation(out, name).metadata.items()}


def readiness_log(out: Outcome, instance: dg.DagsterInstance) -> str:
    """The one line release_readiness writes to the run's log."""
    lines = [
        entry.user_message
        for entry in instance.all_logs(out.result.run_id)
        if not entry.is_dagster_event and entry.step_key == "release_readiness"
    ]
    assert len(lines) == 1, lines
    return lines[0]


def assert_blocked(out: Outcome, world: GitWorld, server, before: str, *failed: str) -> None:
    assert not out.success, out.summary.text
    for name in failed:
        assert out.check(name) is False, f"{name} did not fail\n{out.summary.text}"
        assert name in out.summary.failed_rules
    assert world.release_sha() == before, "the release branch moved"
    assert release_pipelines(server) == [], "a release pipeline was triggered"
    assert out.candidate is None
    assert "release_branch" not in out.summary.metadata


def test_clean_sample_passes_every_readiness_check_and_is_promoted(sample_world, sample_gitlab, instance, postgres_url):
    edit(sample_world, "README.md", "# platform-control (sample)", "# platform-control (sample, next)")
    head = land_on_master(sample_world, sample_gitlab, "docs: sample readme")

    out = promote(sample_world, sample_gitlab.url, instance, config=CONFIG)

    assert out.success, out.summary.text
    for name in READINESS_CHECKS:
        assert out.check(name) is True, f"{name} did not pass\n{out.summary.text}"
    assert sample_world.release_sha() == head
    assert [p["sha"] for p in release_pipelines(sample_gitlab)] == [head]
    # No worktree or extra remotes are configured here: those two checks pass vacuously, and the log says so.
    assert readiness_log(out, instance) == (
        f"{len(READINESS_CHECKS)}/{len(READINESS_CHECKS)} readiness checks passed at {head[:12]} (2 not applicable)"
    )
    assert "4 runtime(s) have publish jobs" in evaluation(out, "runtime_publish_jobs").description
    assert evidence(out, "schema_fresh_database")["applied"] == [
        "db_schema_v1.sql (10 statements)",
        "scripts/seed.sql (1 statements)",
    ]


def test_runtime_without_publish_job_blocks_until_an_intentional_filter_is_declared(
    sample_world, sample_gitlab, instance, postgres_url
):
    before = sample_world.release_sha()
    edit(
        sample_world,
        "scripts/ci/platform_control_runtime_matrix.sh",
        "  terminal-gateway  # internal terminal WebSocket listener\n",
        "  terminal-gateway  # internal terminal WebSocket listener\n  metrics           # cluster metrics\n",
    )
    dockerfile = (sample_world.clone / "runtimes/worker/Dockerfile").read_text()
    (sample_world.clone / "runtimes/metrics").mkdir()
    (sample_world.clone / "runtimes/metrics/Dockerfile").write_text(dockerfile)
    land_on_master(sample_world, sample_gitlab, "metrics runtime, no publish job")

    out = promote(sample_world, sample_gitlab.url, instance, config=CONFIG)

    assert_blocked(out, sample_world, sample_gitlab, before, "runtime_publish_jobs")
    assert evidence(out, "runtime_publish_jobs")["missing"] == [
        "metrics: no job 'publish:metrics' in the release pipeline"
    ]
    assert "publish job graph and the digest fan-in together" in evaluation(out, "runtime_publish_jobs").description
    log = readiness_log(out, instance)
    assert log.startswith(f"{len(READINESS_CHECKS) - 1}/{len(READINESS_CHECKS)} readiness checks passed"), log
    assert "runtime_publish_jobs BLOCKS: " in log and "metrics" in log, log

    edit(
        sample_world,
        ".pc-release.yaml",
        "publish_filters: {}\n",
        "publish_filters:\n  metrics: scraped in-cluster by the node agent, no image published\n",
    )
    head = land_on_master(sample_world, sample_gitlab, "metrics: intentionally not published")

    out = promote(sample_world, sample_gitlab.url, instance, config=CONFIG)

    assert out.success, out.summary.text
    assert out.check("runtime_publish_jobs") is True
    assert evidence(out, "runtime_publish_jobs")["filtered"] == [
        "metrics: scraped in-cluster by the node agent, no image published"
    ]
    assert sample_world.release_sha() == head


PUBLISH_SECTION_START = ".publish-template:\n"
PUBLISH_SECTION_END = "# --- digest-fan-in"


def test_publish_jobs_from_a_project_include_with_inputs_are_seen_through_gitlabs_ci_lint(
    sample_world, sample_gitlab, instance, postgres_url
):
    """The publish jobs move to a file of the project, included with `project:` and parametrised by
    `spec:inputs`: only GitLab's merged configuration has them, and readiness reads that one."""
    ci_file = sample_world.clone / ".gitlab-ci.yml"
    text = ci_file.read_text()
    start, end = text.index(PUBLISH_SECTION_START), text.index(PUBLISH_SECTION_END)
    publish = text[start:end].replace("  stage: package\n", "  stage: $[[ inputs.stage ]]\n", 1)
    header = "spec:\n  inputs:\n    stage:\n      default: package\n---\n"
    (sample_world.clone / "ci").mkdir(exist_ok=True)
    (sample_world.clone / "ci/publish.yml").write_text(header + publish)
    include = "include:\n  - project: platform/platform-control\n    file: ci/publish.yml\n\n"
    ci_file.write_text(include + text[:start] + text[end:])
    head = land_on_master(sample_world, sample_gitlab, "ci: publish jobs from the project's ci/publish.yml")
    sample_gitlab.reset_request_log()

    out = promote(sample_world, sample_gitlab.url, instance, config=CONFIG)

    assert out.success, out.summary.text
    assert out.check("runtime_publish_jobs") is True
    assert out.check("runtime_digest_fan_in") is True
    assert "4 runtime(s) have publish jobs" in evaluation(out, "runtime_publish_jobs").description
    assert "unresolved_includes" not in evidence(out, "runtime_publish_jobs")
    lints = [path for _, path in sample_gitlab.request_log if "/ci/lint?" in path]
    assert lints == [f"/api/v4/projects/platform%2Fplatform-control/ci/lint?content_ref={head}"], lints
    assert sample_world.release_sha() == head


def test_runtime_whose_digest_snippet_never_reaches_the_fan_in_blocks(
    sample_world, sample_gitlab, instance, postgres_url
):
    before = sample_world.release_sha()
    edit(sample_world, ".gitlab-ci.yml", "    - job: publish:worker\n      optional: true\n", "")
    land_on_master(sample_world, sample_gitlab, "fan-in: drop the worker need")

    out = promote(sample_world, sample_gitlab.url, instance, config=CONFIG)

    assert_blocked(out, sample_world, sample_gitlab, before, "runtime_digest_fan_in")
    assert out.check("runtime_publish_jobs") is True
    (problem,) = evidence(out, "runtime_digest_fan_in")["missing_snippets"]
    line = next(
        number
        for number, text in enumerate((sample_world.clone / ".gitlab-ci.yml").read_text().splitlines(), 1)
        if text.startswith("platform_control_assemble_runtime_digests:")
    )
    assert problem.startswith(
        f"platform_control_assemble_runtime_digests (.gitlab-ci.yml:{line}) does not receive publish:worker's "
        "runtime-digest.env (PLATFORM_CONTROL_RUNTIME_DIGEST_WORKER)"
    )


def test_missing_and_invalid_oci_labels_in_final_stages_block(sample_world, sample_gitlab, instance, postgres_url):
    before = sample_world.release_sha()
    labels = (
        "LABEL org.opencontainers.image.version=$VERSION org.opencontainers.image.revision=$REVISION "
        "org.opencontainers.image.created=$CREATED\n"
    )
    # api: the labels moved into the builder stage, which is not the image that ships.
    edit(sample_world, "runtimes/api/Dockerfile", labels, "")
    edit(sample_world, "runtimes/api/Dockerfile", "WORKDIR /src\n", "WORKDIR /src\n" + labels)
    # worker: a literal created date that is not RFC 3339.
    edit(
        sample_world,
        "runtimes/worker/Dockerfile",
        "org.opencontainers.image.created=$CREATED",
        'org.opencontainers.image.created="26/11/2026 12:00"',
    )
    land_on_master(sample_world, sample_gitlab, "runtime images: label shuffle")

    out = promote(sample_world, sample_gitlab.url, instance, config=CONFIG)

    assert_blocked(out, sample_world, sample_gitlab, before, "oci_labels")
    findings = evidence(out, "oci_labels")["findings"]
    api_lines = (sample_world.clone / "runtimes/api/Dockerfile").read_text().splitlines()
    final_from = max(number for number, text in enumerate(api_lines, 1) if text.startswith("FROM "))
    build_label = api_lines.index(labels.strip()) + 1
    assert [finding for finding in findings if finding.startswith("runtimes/api/")] == [
        f"runtimes/api/Dockerfile:{final_from}: the final stage (stage 1 (FROM python:3.11-slim)) sets no LABEL "
        f"{label}; it is set at line {build_label}, in a stage that is not the final image"
        for label in (
            "org.opencontainers.image.version",
            "org.opencontainers.image.revision",
            "org.opencontainers.image.created",
        )
    ]
    worker_label = next(
        number
        for number, text in enumerate((sample_world.clone / "runtimes/worker/Dockerfile").read_text().splitlines(), 1)
        if "image.created=" in text
    )
    assert [finding for finding in findings if finding.startswith("runtimes/worker/")] == [
        f"runtimes/worker/Dockerfile:{worker_label}: LABEL org.opencontainers.image.created='26/11/2026 12:00' is "
        "not an RFC 3339 timestamp (e.g. 2026-01-31T12:00:00Z)"
    ]
    assert len(findings) == 4
    assert "not the publish check" in evaluation(out, "oci_labels").description


def test_schema_that_only_works_on_a_fresh_database_blocks(sample_world, sample_gitlab, instance, postgres_url):
    before = sample_world.release_sha()
    edit(sample_world, "db_schema_v1.sql", "    role TEXT NOT NULL,\n", "    role TEXT NOT NULL,\n    team TEXT,\n")
    (sample_world.clone / "scripts/seed.sql").write_text(
        "-- Seed data.\n\n\n"
        "INSERT INTO platform_role_bindings (subject, role, created_by, team) VALUES\n"
        "    ('alice', 'platform-admin', 'seed', 'core')\n"
        "ON CONFLICT (subject, role) DO NOTHING;\n"
    )
    land_on_master(sample_world, sample_gitlab, "role bindings: team column")

    out = promote(sample_world, sample_gitlab.url, instance, config=CONFIG)

    assert_blocked(out, sample_world, sample_gitlab, before, "schema_safe_for_existing_database", "schema_static_lint")
    assert out.check("schema_fresh_database") is True
    upgrade = evidence(out, "schema_safe_for_existing_database")
    assert (upgrade["file"], upgrade["line"], upgrade["sqlstate"]) == ("scripts/seed.sql", 4, "42703")
    assert upgrade["error"] == 'column "team" of relation "platform_role_bindings" does not exist'
    assert upgrade["statement"].startswith("INSERT INTO platform_role_bindings (subject, role, created_by, team)")
    assert evidence(out, "schema_static_lint")["findings"] == [
        "db_schema_v1.sql:9: column platform_role_bindings.team is new only inside CREATE TABLE "
        "platform_role_bindings, which deployed databases skip; add ALTER TABLE platform_role_bindings ADD COLUMN "
        "IF NOT EXISTS team ..."
    ]


def test_schema_that_fails_when_applied_twice_blocks(sample_world, sample_gitlab, instance, postgres_url):
    before = sample_world.release_sha()
    schema = sample_world.clone / "db_schema_v1.sql"
    schema.write_text(schema.read_text() + "\nALTER TABLE admin_audit_log ADD COLUMN source_ip TEXT;\n")
    line = len(schema.read_text().splitlines())
    land_on_master(sample_world, sample_gitlab, "audit log: source ip")

    out = promote(sample_world, sample_gitlab.url, instance, config=CONFIG)

    assert_blocked(out, sample_world, sample_gitlab, before, "schema_idempotent", "schema_static_lint")
    assert out.check("schema_safe_for_existing_database") is True
    assert out.check("schema_fresh_database") is True
    again = evidence(out, "schema_idempotent")
    assert (again["step"], again["file"], again["line"]) == ("candidate schema again", "db_schema_v1.sql", line)
    assert again["error"] == 'column "source_ip" of relation "admin_audit_log" already exists'


def test_seed_value_the_deployed_constraint_does_not_allow_blocks(sample_world, sample_gitlab, instance, postgres_url):
    before = sample_world.release_sha()
    # The new role is allowed only inside CREATE TABLE (fresh databases) and the refresh is gone.
    edit(
        sample_world,
        "db_schema_v1.sql",
        "    role TEXT NOT NULL,\n",
        "    role TEXT NOT NULL CHECK (role IN ('platform-admin', 'platform-auditor', 'platform-operator', "
        "'platform-viewer')),\n",
    )
    edit(
        sample_world,
        "db_schema_v1.sql",
        "ALTER TABLE platform_role_bindings DROP CONSTRAINT IF EXISTS platform_role_bindings_role_check;\n"
        "ALTER TABLE platform_role_bindings ADD CONSTRAINT platform_role_bindings_role_check\n"
        "    CHECK (role IN ('platform-admin', 'platform-operator', 'platform-viewer'));\n",
        "",
    )
    edit(
        sample_world,
        "scripts/seed.sql",
        "    ('victor', 'platform-viewer', 'seed')\n",
        "    ('victor', 'platform-viewer', 'seed'),\n    ('sam', 'platform-auditor', 'seed')\n",
    )
    land_on_master(sample_world, sample_gitlab, "roles: platform-auditor")

    out = promote(sample_world, sample_gitlab.url, instance, config=CONFIG)

    assert_blocked(out, sample_world, sample_gitlab, before, "seed_allowed_by_deployed_constraints")
    assert out.check("schema_fresh_database") is True
    seed = evidence(out, "seed_allowed_by_deployed_constraints")
    assert seed["constraint"] == "platform_role_bindings_role_check"
    assert (seed["file"], seed["line"], seed["sqlstate"], seed["table"]) == (
        "scripts/seed.sql",
        4,
        "23514",
        "platform_role_bindings",
    )
    assert "platform-auditor" in seed["detail"]
    assert (
        "constraint platform_role_bindings_role_check"
        in evaluation(out, "seed_allowed_by_deployed_constraints").description
    )
    assert any(
        "platform_role_bindings_role_check changed only inside CREATE TABLE" in finding
        for finding in evidence(out, "schema_static_lint")["findings"]
    )


def test_stale_generated_sdk_blocks(sample_world, sample_gitlab, instance):
    """Also the production default: no PC_RELEASE_POSTGRES_URL, so the run starts its own throwaway server."""
    before = sample_world.release_sha()
    edit(sample_world, "api/openapi.yaml", "  version: 1.4.0\n", "  version: 1.5.0\n")
    land_on_master(sample_world, sample_gitlab, "api: 1.5.0 without regenerating the SDK")

    out = promote(sample_world, sample_gitlab.url, instance, config=CONFIG)

    assert_blocked(out, sample_world, sample_gitlab, before, "generated_artifacts_fresh")
    stale = evidence(out, "generated_artifacts_fresh")
    assert stale["stale"] == ["sdk/platform_control_sdk.py"]
    assert stale["command"] == "python3 scripts/codegen.py"
    assert '+API_VERSION = "1.5.0"' in stale["diff"]
    assert list((sample_world.clone / ".git").glob("worktrees/*")) == [], "the codegen worktree was left behind"
    assert out.check("schema_safe_for_existing_database") is True
    assert out.check("seed_allowed_by_deployed_constraints") is True


def test_lost_runtime_file_and_config_key_block(sample_world, sample_gitlab, instance, postgres_url):
    before = sample_world.release_sha()
    edit(sample_world, "runtimes/terminal-gateway/runtime.yaml", "TERMINAL_WS_PATH: /internal/terminal/ws\n", "")
    land_on_master(
        sample_world,
        sample_gitlab,
        "terminal-gateway: trim",
        delete=("runtimes/terminal-gateway/listener.py",),
    )

    out = promote(sample_world, sample_gitlab.url, instance, config=CONFIG)

    assert_blocked(out, sample_world, sample_gitlab, before, "runtime_files_present", "runtime_config_keys_present")
    assert evidence(out, "runtime_files_present")["findings"] == [
        "runtimes/terminal-gateway/listener.py: required by runtime terminal-gateway, absent at the SHA"
    ]
    manifest = "deploy/overlays/platform-control/terminal-gateway.yaml"
    line = next(
        number
        for number, text in enumerate((sample_world.clone / manifest).read_text().splitlines(), 1)
        if text.strip() == "key: TERMINAL_WS_PATH"
    )
    findings = evidence(out, "runtime_config_keys_present")["findings"]
    assert (
        f"{manifest}:{line}: configMapKeyRef platform-config key TERMINAL_WS_PATH is not in "
        "runtimes/terminal-gateway/runtime.yaml (runtime terminal-gateway)"
    ) in findings
    assert len(findings) == 2  # the kind overlay reads the key too


@pytest.fixture
def release_worktree(world, monkeypatch) -> Path:
    """The operator's release worktree: `other`, a clone of origin on the release branch."""
    git(world.other, "checkout", "-q", "-B", "release/platform-control", "origin/release/platform-control")
    monkeypatch.setenv("PC_RELEASE_RELEASE_WORKTREE", str(world.other))
    return world.other


def green_master_head(world, server) -> str:
    head = world.commit("next change")
    world.push("master")
    pipeline = server.create_pipeline("master", sha=head)
    server.set_all_jobs_status(pipeline["id"], "success")
    return head


def test_pending_release_only_edits_in_the_release_worktree_block(world, gitlab_server, instance, release_worktree):
    (release_worktree / "hotfix.py").write_text("print('release-only')\n")
    git(release_worktree, "commit", "-q", "--allow-empty", "-m", "release-only tweak")
    green_master_head(world, gitlab_server)
    before = world.release_sha()

    out = promote(world, gitlab_server.url, instance, config=CONFIG)

    assert_blocked(out, world, gitlab_server, before, "release_worktree_clean")
    pending = evidence(out, "release_worktree_clean")
    assert pending["uncommitted"] == ["?? hotfix.py"]
    assert [commit.split(" ", 1)[1] for commit in pending["unpushed"]] == ["release-only tweak"]
    # A repository without .pc-release.yaml, Dockerfiles or schema: those checks do not apply, they pass.
    text = out.summary.text
    assert "gate runtime_publish_jobs: passed: not applicable: no runtimes declared" in text
    assert "gate schema_fresh_database: passed: not applicable: no schema file (db_schema_v1.sql absent" in text

    (release_worktree / "hotfix.py").unlink()
    git(release_worktree, "reset", "-q", "--hard", "origin/release/platform-control")
    out = promote(world, gitlab_server.url, instance, config=CONFIG)
    assert out.success, out.summary.text
    assert out.check("release_worktree_clean") is True


def test_sha_missing_from_a_canonical_remote_blocks(world, gitlab_server, instance, monkeypatch, tmp_path):
    mirror = tmp_path / "mirror.git"
    git(tmp_path, "clone", "-q", "--bare", str(world.origin), str(mirror))
    git(world.clone, "remote", "add", "mirror", str(mirror))
    monkeypatch.setenv("PC_RELEASE_CANONICAL_REMOTES", "origin,mirror")
    head = green_master_head(world, gitlab_server)
    before = world.release_sha()

    out = promote(world, gitlab_server.url, instance, config=CONFIG)

    assert_blocked(out, world, gitlab_server, before, "source_on_canonical_remotes")
    missing = evidence(out, "source_on_canonical_remotes")["missing"]
    assert missing == [f"mirror: master is at {before}, which does not contain the SHA"]

    git(world.clone, "push", "-q", "mirror", "master")
    out = promote(world, gitlab_server.url, instance, config=CONFIG)
    assert out.success, out.summary.text
    assert world.release_sha() == head
