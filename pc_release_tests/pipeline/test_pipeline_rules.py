"""Table-driven tests of the release pipeline rules in pc_release.policy.pipeline."""

from datetime import UTC, datetime

import pytest

from pc_release.models import GITLAB_STATUSES, BridgeInfo, JobInfo, PipelineInfo, PromotionRequest
from pc_release.policy import promotion as promotion_rules
from pc_release.policy.gates import CHECKLIST
from pc_release.policy.pipeline import downstream as downstream_rules
from pc_release.policy.pipeline import gates as gate_rules
from pc_release.policy.pipeline import record as record_rules
from pc_release.policy.pipeline import stages as stage_rules
from pc_release.release_config import DEFAULT_RELEASE_CONFIG, load_release_config

CONFIG = DEFAULT_RELEASE_CONFIG
RUNTIMES = ["api", "web", "worker"]
SHA = "f" * 40
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
T1 = datetime(2026, 1, 1, 12, 5, tzinfo=UTC)


def job(name, status="success", stage="build-test", *, id=1, allow_failure=False, started=True):
    return JobInfo(
        id=id,
        name=name,
        stage=stage,
        status=status,
        web_url=f"https://gitlab.example/p/-/jobs/{id}",
        allow_failure=allow_failure,
        started_at=T0 if started else None,
        finished_at=T1 if started and status in ("success", "failed", "canceled") else None,
        duration=300.0 if started else None,
    )


def outcome(stage, jobs, *, mode="full", profile="standard", terminal=False, config=CONFIG):
    grouped, _ = stage_rules.group_by_stage(config, jobs)
    return stage_rules.stage_outcome(
        stage, grouped[stage], config=config, runtimes=RUNTIMES, mode=mode, profile=profile, pipeline_terminal=terminal
    )


@pytest.mark.parametrize(
    ("status", "allow_failure", "terminal", "state"),
    [
        ("success", False, False, "passed"),
        ("failed", False, False, "failed"),
        ("failed", True, False, "warning"),
        ("canceled", False, False, "canceled"),
        ("canceled", True, False, "warning"),
        ("skipped", False, False, "skipped"),
        ("manual", True, False, "ignored"),
        ("manual", False, False, "manual"),
        ("manual", False, True, "not_run"),
        ("canceling", False, False, "running"),
        ("canceling", False, True, "not_run"),
        ("waiting_for_callback", False, False, "running"),
        ("waiting_for_resource", False, False, "running"),
        ("preparing", False, False, "running"),
        ("pending", False, False, "running"),
        ("running", False, False, "running"),
        ("created", False, False, "running"),
        ("created", False, True, "not_run"),
        ("scheduled", False, False, "running"),
        ("some_future_status", False, False, "running"),
    ],
)
def test_job_state_for_every_gitlab_status(status, allow_failure, terminal, state):
    assert stage_rules.job_state(status, allow_failure, terminal) == state


@pytest.mark.parametrize(
    ("status", "allow_failure", "terminal", "state"),
    [
        ("manual", True, False, "manual"),
        ("manual", True, True, "manual"),
        ("manual", False, True, "manual"),
        ("success", True, True, "passed"),
        ("failed", True, True, "warning"),
        ("created", False, True, "not_run"),
    ],
)
def test_a_required_manual_job_waits_for_its_action(status, allow_failure, terminal, state):
    assert stage_rules.job_state(status, allow_failure, terminal, required=True) == state


def test_every_documented_gitlab_status_has_a_state():
    for status in GITLAB_STATUSES:
        assert stage_rules.job_state(status, False, False) in stage_rules.SETTLED_JOB_STATES | {"running", "manual"}


@pytest.mark.parametrize(
    ("job_name", "gitlab_stage", "stage"),
    [
        ("openapi-contract", "contracts", "contracts"),
        ("frontend-test", "build-test", "build_test"),
        ("publish:api", "package", "package"),
        ("platform_control_assemble_runtime_digests", "digest-fan-in", "digest_fan_in"),
        ("rollout", "deploy", "deployment"),
        ("web-smoke", "remote-validation", "remote_validation"),
        # GitLab stage names the config does not list fall back to their words.
        ("unit", "test", "build_test"),
        ("docker", "publish", "package"),
        ("apply", "production-deploy", "deployment"),
        ("smoke", "post-deploy-validation", "remote_validation"),
        ("lint", "lint", "contracts"),
        ("notify", "notify", None),
    ],
)
def test_stage_for_job_from_config_then_gitlab_stage_names(job_name, gitlab_stage, stage):
    assert stage_rules.stage_for_job(CONFIG, job_name, gitlab_stage) == stage


def test_stage_for_job_config_overrides_win():
    config = load_release_config(
        "stages: {build_test: [verify]}\n"
        "job_stage_overrides: {platform_control_assemble_runtime_digests: digest_fan_in}\n"
    )
    assert stage_rules.stage_for_job(config, "unit", "verify") == "build_test"
    assert stage_rules.stage_for_job(config, "platform_control_assemble_runtime_digests", "package") == "digest_fan_in"


@pytest.mark.parametrize(
    ("jobs", "terminal", "status"),
    [
        ([job("a"), job("b", id=2)], False, "passed"),
        ([job("a"), job("b", "running", id=2)], False, "in_progress"),
        ([job("a"), job("b", "failed", id=2)], False, "failed"),
        ([job("a", "failed"), job("b", "running", id=2)], False, "in_progress"),
        ([job("a"), job("b", "failed", id=2, allow_failure=True)], False, "passed_with_warnings"),
        ([job("a"), job("b", "canceled", id=2)], False, "canceled"),
        ([job("a"), job("b", "canceling", id=2)], False, "in_progress"),
        ([job("a"), job("b", "canceling", id=2)], True, "passed"),
        ([job("a", "skipped", started=False), job("b", "skipped", id=2, started=False)], True, "skipped"),
        ([job("a", "canceled", started=False)], True, "canceled"),
        ([job("a"), job("gate", "manual", id=2)], False, "waiting_for_manual"),
        ([job("a"), job("opt", "manual", id=2, allow_failure=True)], False, "passed"),
        ([job("a"), job("cb", "waiting_for_callback", id=2)], False, "in_progress"),
        ([], False, "missing"),
        # A failed attempt retried into success counts as passed.
        ([job("a", "failed"), job("a", "success", id=2)], False, "passed"),
        ([job("a", "success"), job("a", "failed", id=2)], False, "failed"),
    ],
)
def test_stage_outcome(jobs, terminal, status):
    result = outcome("build_test", jobs, terminal=terminal)
    assert result.status == status
    assert result.settled == (status not in ("in_progress", "waiting_for_manual"))


def test_retried_attempts_are_listed_on_the_latest_job():
    result = outcome("build_test", [job("a", "failed", id=1), job("a", "success", id=7)])
    (row,) = result.jobs
    assert row.id == 7 and row.earlier_attempts == ["#1 failed"]
    assert result.signature() == "7:success"


def test_a_stage_without_jobs_is_not_run_under_web_fast_and_missing_otherwise():
    assert outcome("deployment", [], profile="web-fast").status == "not_run_by_profile"
    missing = outcome("deployment", [])
    assert missing.status == "missing" and not gate_rules.stage_passed(missing).ok


def test_package_expects_a_publish_job_per_runtime_unless_filtered_or_left_out_by_web_fast():
    config = load_release_config('publish_filters: {worker: "built by the worker team\'s pipeline"}\n')
    jobs = [job("publish:api", stage="package"), job("publish:web", stage="package", id=2)]
    assert outcome("package", jobs, config=config).status == "passed"
    missing = outcome("package", jobs)
    assert missing.status == "failed" and missing.missing == ["publish:worker"]
    assert "runtime matrix" in " ".join(missing.hints)
    web_only = outcome("package", [job("publish:web", stage="package")], profile="web-fast")
    assert web_only.status == "passed"
    assert web_only.not_run_by_profile == [
        "publish:api (web-fast publishes web only)",
        "publish:worker (web-fast publishes web only)",
    ]


def test_deploy_mode_lists_report_only_evidence_as_not_run():
    result = outcome("remote_validation", [job("web-smoke", stage="remote-validation")], mode="deploy")
    assert result.status == "passed"
    assert result.not_run_by_profile == [
        "post-deploy-security-evidence (deploy mode skips report-only evidence)",
        "post-deploy-runtime-evidence (deploy mode skips report-only evidence)",
    ]


@pytest.mark.parametrize(
    ("job_name", "stage", "hint"),
    [
        ("frontend-test", "build_test", "UI contract and its test expectations"),
        ("frontend-playwright", "build_test", "UI contract"),
        ("sdk-check", "build_test", "regenerate the generated artifacts from the API contract"),
        ("publish:api", "package", "runtimes/api/Dockerfile"),
        ("publish:web", "package", "not the publish check"),
        ("image-labels", "package", "runtime Dockerfile/build path"),
        ("platform_control_assemble_runtime_digests", "digest_fan_in", "runtime matrix"),
        ("deploy-schema", "deployment", "db_schema_v1.sql safe for existing databases"),
        ("deploy-seed", "deployment", "scripts/seed.sql within the constraints"),
        ("disposable-cleanup", "remote_validation", "lifecycle/read-model defect"),
        ("release-branch-guard", "contracts", "merge them into master"),
        ("openapi-contract", "contracts", "API contract"),
        ("backend-test", "build_test", "owning code or its tests on master"),
        ("public-endpoints", "remote_validation", "only external infrastructure failures justify a retry"),
    ],
)
def test_owning_layer_hints_follow_the_policy(job_name, stage, hint):
    assert hint in stage_rules.owning_layer_hint(CONFIG, job_name, stage, RUNTIMES)


def test_failed_job_carries_its_hint_into_the_stage_verdict():
    result = outcome("build_test", [job("frontend-test", "failed"), job("sdk-check", id=2)])
    verdict = gate_rules.stage_passed(result)
    assert not verdict.ok and "frontend-test" in verdict.reason and "UI contract" in verdict.reason


@pytest.mark.parametrize(
    ("digests", "ok", "words"),
    [
        ({"api": "sha256:" + "a" * 64, "web": "sha256:" + "b" * 64, "worker": "sha256:" + "c" * 64}, True, "every"),
        ({"api": "sha256:" + "a" * 64, "web": None, "worker": "sha256:" + "c" * 64}, False, "web (PLATFORM_CONTROL_"),
        ({"api": "sha256:" + "A" * 64, "web": "sha256:" + "b" * 64, "worker": "md5:1"}, False, "not a sha256"),
    ],
)
def test_runtime_digests_present(digests, ok, words):
    verdict = gate_rules.runtime_digests_present(
        CONFIG, stage_rules.runtime_plan(CONFIG, RUNTIMES, "standard"), digests
    )
    assert verdict.ok is ok and words in verdict.reason


def test_runtime_plan_filters_and_web_fast():
    config = load_release_config("publish_filters: {worker: external}\n")
    assert stage_rules.runtime_plan(config, RUNTIMES, "standard").expected == ["api", "web"]
    plan = stage_rules.runtime_plan(config, RUNTIMES, "web-fast")
    assert (plan.expected, plan.not_run_by_profile, plan.filtered) == (["web"], ["api"], {"worker": "external"})


def pipeline(status, id=9):
    return PipelineInfo(id=id, sha=SHA, ref="release/platform-control", status=status, web_url=f"https://g/p/{id}")


RELEASE = PromotionRequest()
RETRY = PromotionRequest(transient_retry_reason="runner node evicted (INFRA-1)")
DEV_TEST = PromotionRequest(kind="dev-test", mode="deploy", allow_divergence=True, skip_local_preflight=True)


@pytest.mark.parametrize(
    ("last", "request_", "ok", "warning", "words"),
    [
        (None, RELEASE, True, False, "no earlier release pipeline"),
        (pipeline("success"), RELEASE, True, False, "is success, not failed"),
        (pipeline("running"), RELEASE, True, False, "is running, not failed"),
        (pipeline("canceled"), RELEASE, True, False, "is canceled, not failed"),
        (pipeline("failed"), RELEASE, False, False, "fix the failure on master"),
        (pipeline("failed"), RETRY, True, True, "transient infrastructure: runner node evicted (INFRA-1)"),
        (pipeline("failed"), DEV_TEST, True, True, "dev-test deploy may run it again"),
    ],
)
def test_failed_sha_retry(last, request_, ok, warning, words):
    verdict = promotion_rules.failed_sha_retry(SHA, last, request_)
    assert (verdict.ok, verdict.warning) == (ok, warning)
    assert words in verdict.reason
    if request_.transient_retry_reason:
        assert verdict.evidence["transient_retry_reason"] == request_.transient_retry_reason


def stages_with(deployment="passed", remote="passed"):
    return [
        stage_rules.StageOutcome(stage="deployment", status=deployment),
        stage_rules.StageOutcome(stage="remote_validation", status=remote),
    ]


@pytest.mark.parametrize(
    ("kind", "status", "stages", "failed_gates", "expected"),
    [
        ("release", "success", stages_with(), (), "released"),
        ("release", "success", stages_with(remote="not_run_by_profile"), (), "released"),
        ("release", "success", stages_with(), ("runtime_digests_present",), "not released"),
        ("release", "success", stages_with(remote="missing"), (), "not released"),
        ("release", "failed", stages_with(remote="failed"), (), "failed"),
        ("release", "canceled", stages_with(remote="canceled"), (), "canceled"),
        ("dev-test", "success", stages_with(), (), "dev-test, not released"),
        ("dev-test", "failed", stages_with(remote="failed"), (), "dev-test, not released"),
    ],
)
def test_record_status(kind, status, stages, failed_gates, expected):
    assert record_rules.record_status(kind, status, stages, failed_gates) == expected
    verdict = record_rules.final_validation(kind, pipeline(status), stages, failed_gates)
    assert verdict.ok == (expected in ("released", "dev-test, not released"))


def test_operator_checklist_names_its_evidence_or_not_checked():
    gates = {
        "reachable_from_master": record_rules.Gate(
            name="reachable_from_master", status="passed", description="on master"
        ),
        "master_ci_green_on_exact_sha": record_rules.Gate(
            name="master_ci_green_on_exact_sha", status="failed", description="red"
        ),
        "local_preflight_gate": record_rules.Gate(name="local_preflight_gate", status="warning", description="adv"),
        "runtime_files_present": record_rules.Gate(
            name="runtime_files_present", status="passed", description="all there"
        ),
    }
    build = stage_rules.StageOutcome(
        stage="build_test",
        status="passed",
        jobs=[
            stage_rules.JobRow(
                id=1,
                name="sdk-check",
                gitlab_stage="build-test",
                status="success",
                state="passed",
                web_url="u",
                started_at=T0,
            )
        ],
    )
    items = {
        i.item: i
        for i in record_rules.operator_checklist(
            gates, {"status": "failed", "classifications": "{'e2e': 'flaky'}"}, [build]
        )
    }
    assert items["Intended fix is on master"].status == "proved"
    assert items["CI green on the exact SHA being promoted"].status == "failed"
    assert items["Local preflight run and reviewed"].status == "warning"
    assert "flaky" in items["Local preflight run and reviewed"].evidence
    assert items["No manual release-only edits pending"].status == "not checked"
    assert items["Generated artifacts required by CI are committed"].evidence == "release pipeline: sdk-check success"
    assert items["Bootstrap/config/runtime files present on the promoted SHA"].evidence.startswith("runtime_files")
    assert list(items) == list(CHECKLIST)


@pytest.mark.parametrize(
    ("image_id", "digest"),
    [
        ("docker-pullable://registry/x/api@sha256:" + "a" * 64, "sha256:" + "a" * 64),
        ("registry/x/api@sha256:" + "b" * 64, "sha256:" + "b" * 64),
        # The local image ID (config digest), not a registry digest: nothing to compare a fan-in digest with.
        ("sha256:" + "c" * 64, None),
        ("docker://sha256:" + "d" * 64, None),
        ("registry/x/api:latest", None),
    ],
)
def test_running_digest(image_id, digest):
    assert gate_rules.running_digest(image_id) == digest


def test_runtime_image_conformance():
    want = "sha256:" + "a" * 64
    running = {
        "api": gate_rules.RunningRuntime(
            runtime="api",
            workload="Deployment/api",
            container="api",
            rollout_complete=True,
            image_ids=[f"r/api@{want}", f"r/api@{want}"],
        ),
    }
    assert gate_rules.runtime_image_conformance({"api": want}, running, "ctx").ok
    other = "sha256:" + "e" * 64
    mixed = {"api": running["api"].model_copy(update={"image_ids": [f"r/api@{want}", f"r/api@{other}"]})}
    verdict = gate_rules.runtime_image_conformance({"api": want}, mixed, "ctx")
    assert not verdict.ok and f"api: expected {want}, running {other}" in verdict.reason
    assert "no fan-in digest" in gate_rules.runtime_image_conformance({"api": None}, running, "ctx").reason
    loaded = {"api": running["api"].model_copy(update={"image_ids": [f"r/api@{want}", other]})}
    verdict = gate_rules.runtime_image_conformance({"api": want}, loaded, "ctx")
    assert verdict.ok and verdict.warning and f"api: cannot verify, the pods report image ID {other}" in verdict.reason
    unnamed = {"api": running["api"].model_copy(update={"image_ids": [], "pods_without_container": ["api-0"]})}
    verdict = gate_rules.runtime_image_conformance({"api": want}, unnamed, "ctx")
    assert not verdict.ok and "api-0 of Deployment/api have no container named" in verdict.reason
    assert "no running pod reports" not in verdict.reason
    starting = {"api": running["api"].model_copy(update={"image_ids": [""]})}  # containers still being created
    assert (
        "api: no running pod reports an image ID"
        in gate_rules.runtime_image_conformance({"api": want}, starting, "ctx").reason
    )


def test_jobs_running_outside_the_profile_are_flagged_not_failed():
    result = outcome("build_test", [job("frontend-test"), job("backend-test", id=2)], profile="web-fast")
    assert result.status == "passed"
    assert [entry.split(" (")[0] for entry in result.ran_outside_profile] == ["backend-test"]
    evidence = outcome(
        "remote_validation", [job("post-deploy-runtime-evidence", stage="remote-validation")], mode="deploy"
    )
    assert evidence.ran_outside_profile == [
        "post-deploy-runtime-evidence (deploy mode skips the post-deploy report-only evidence)"
    ]


def _bridge(downstream: PipelineInfo | None) -> BridgeInfo:
    return BridgeInfo(
        id=7, name="deploy-child", stage="deploy", status="success", web_url="http://gl/j/7", downstream=downstream
    )


def _downstream_pipeline(source: str, status: str, project_id: int) -> PipelineInfo:
    return PipelineInfo(
        id=90,
        sha="a" * 40,
        ref="release/platform-control",
        status=status,
        web_url="http://gl/p/90",
        source=source,
        project_id=project_id,
    )


@pytest.mark.parametrize(
    ("downstream", "followed", "settled", "failed", "named"),
    [
        (_downstream_pipeline("parent_pipeline", "success", 1), True, True, False, None),
        (_downstream_pipeline("parent_pipeline", "failed", 1), True, True, True, None),
        (_downstream_pipeline("parent_pipeline", "running", 1), True, False, True, None),
        (_downstream_pipeline("pipeline", "failed", 2), False, True, False, "not followed: not a child pipeline"),
        (_downstream_pipeline("parent_pipeline", "success", 2), False, True, False, "(multi-project)"),
        (None, False, True, False, "started no downstream pipeline"),
    ],
    ids=["child-passed", "child-failed", "child-running", "multi-project", "other-projects-child", "none-yet"],
)
def test_downstream_pipelines_followed_only_when_a_child_of_this_project(downstream, followed, settled, failed, named):
    found = downstream_rules.downstream_of(_bridge(downstream), project_id=1)
    assert (found.followed, found.settled, found.failed) == (followed, settled, failed)
    listed = downstream_rules.not_followed([found])
    if named is None:
        assert listed == []
    else:
        assert len(listed) == 1 and named in listed[0] and "deploy-child" in listed[0]


@pytest.mark.parametrize(
    ("status", "release"),
    [
        ("released", True),
        ("not released", False),
        ("failed", False),
        ("canceled", False),
        ("dev-test, not released", False),
    ],
)
def test_only_a_record_that_says_released_is_a_release(status, release):
    assert record_rules.is_release(status) is release


@pytest.mark.parametrize(
    ("outcome", "ok", "words"),
    [
        ("released", True, "released"),
        ("passed_with_warnings", True, "passed_with_warnings"),
        ("failed", False, "FAILED"),
        ("canceled", False, "CANCELED"),
        ("dev-test, not released", False, "DEV-TEST, NOT RELEASED"),
    ],
)
def test_an_outcome_that_is_not_a_success_is_said_in_capitals(outcome, ok, words):
    assert record_rules.outcome_words(outcome, ok) == words
