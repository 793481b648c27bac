"""Table-driven tests of the local preflight gate: advisory, REQUIRE, SKIP, dev-test and scoped."""

import pytest

from pc_release.models import PreflightCheck, PromotionRequest
from pc_release.policy import preflight as rules

ADVISORY = PromotionRequest()
REQUIRE = PromotionRequest(require_local_preflight=True)
SKIP = PromotionRequest(skip_local_preflight=True)
DEV_TEST = PromotionRequest(kind="dev-test", mode="deploy", allow_divergence=True, skip_local_preflight=True)
DEV_TEST_ASKED = PromotionRequest(kind="dev-test", mode="deploy", allow_divergence=True, require_local_preflight=True)
SCOPED = PromotionRequest(preflight_scope="route guard")
SCOPED_REQUIRE = PromotionRequest(preflight_scope="route guard", require_local_preflight=True)


def ok(name):
    return PreflightCheck(name=name, status="passed", reason="fine")


def bad(name, classification):
    return PreflightCheck(name=name, status="failed", reason="it broke", classification=classification)


def skipped(name):
    return PreflightCheck(name=name, status="skipped", reason="not declared")


GREEN = [ok("playwright_e2e"), ok("role_authz_smoke"), ok("kind_parity")]
FLAKY = [bad("playwright_e2e", "local_instability"), ok("role_authz_smoke"), ok("kind_parity")]
DRIFT = [bad("playwright_e2e", "environment_drift"), ok("role_authz_smoke"), ok("kind_parity")]
BLOCKER = [ok("playwright_e2e"), bad("role_authz_smoke", "release_blocker"), ok("kind_parity")]


@pytest.mark.parametrize(
    ("request_", "should_run"),
    [(ADVISORY, True), (REQUIRE, True), (SKIP, False), (DEV_TEST, False), (DEV_TEST_ASKED, True), (SCOPED, True)],
)
def test_who_runs_the_preflight(request_, should_run):
    assert rules.should_run(request_) is should_run


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (SKIP, "skipped intentionally (PLATFORM_CONTROL_SKIP_LOCAL_PREFLIGHT=true)"),
        (DEV_TEST, "skipped by the dev-test bypass (default)"),
    ],
)
def test_skips_are_recorded_as_intentional_and_pass_the_gate_with_a_warning(request_, reason):
    report = rules.preflight_not_run(request_)
    assert (report.status, report.reason) == ("skipped", reason)
    verdict = rules.preflight_gate(report, request_)
    assert verdict.ok and verdict.warning and verdict.reason == reason


@pytest.mark.parametrize(
    ("checks", "request_", "status", "classifications", "gate_ok", "gate_warning"),
    [
        (GREEN, ADVISORY, "passed", {}, True, False),
        (GREEN, REQUIRE, "passed", {}, True, False),
        (FLAKY, ADVISORY, "failed", {"playwright_e2e": "local_instability"}, True, True),
        (DRIFT, ADVISORY, "failed", {"playwright_e2e": "environment_drift"}, True, True),
        (BLOCKER, ADVISORY, "failed", {"role_authz_smoke": "release_blocker"}, True, True),
        # REQUIRE: any failure blocks, whatever its class.
        (FLAKY, REQUIRE, "failed", {"playwright_e2e": "local_instability"}, False, False),
        (DRIFT, REQUIRE, "failed", {"playwright_e2e": "environment_drift"}, False, False),
        (BLOCKER, REQUIRE, "failed", {"role_authz_smoke": "release_blocker"}, False, False),
        (BLOCKER, DEV_TEST_ASKED, "failed", {"role_authz_smoke": "release_blocker"}, False, False),
        # Scoped is recorded as scoped and never counts as the full preflight.
        (GREEN, SCOPED, "scoped_passed", {}, True, True),
        (FLAKY, SCOPED, "scoped_failed", {"playwright_e2e": "local_instability"}, True, True),
        (GREEN, SCOPED_REQUIRE, "scoped_passed", {}, False, False),
        ([skipped("playwright_e2e"), skipped("role_authz_smoke")], ADVISORY, "not_run", {}, True, True),
        ([skipped("playwright_e2e"), skipped("role_authz_smoke")], REQUIRE, "not_run", {}, False, False),
    ],
)
def test_summary_and_gate(checks, request_, status, classifications, gate_ok, gate_warning):
    report = rules.summarize_preflight(checks, request_)
    assert report.status == status
    assert report.classifications == classifications
    assert report.blocking is request_.require_local_preflight
    assert report.scope == request_.preflight_scope
    verdict = rules.preflight_gate(report, request_)
    assert (verdict.ok, verdict.warning) == (gate_ok, gate_warning)
    assert verdict.rule == "local_preflight_gate"
    assert verdict.evidence["classifications"] == [f"{k}: {v}" for k, v in classifications.items()]


def test_reason_lists_the_worst_failure_first_and_names_the_scope():
    checks = [bad("playwright_e2e", "local_instability"), bad("kind_parity", "release_blocker")]
    report = rules.summarize_preflight(checks, SCOPED)
    assert report.reason.startswith("scoped to 'route guard' (debugging override, not the full preflight); ")
    assert report.reason.index("kind_parity release_blocker") < report.reason.index("playwright_e2e local_instability")
    advisory = rules.preflight_gate(rules.summarize_preflight(checks, ADVISORY), ADVISORY)
    assert "review whether it is a real release blocker" in advisory.reason
    required = rules.preflight_gate(rules.summarize_preflight(GREEN, SCOPED_REQUIRE), SCOPED_REQUIRE)
    assert "a scoped preflight never stands in for the full one" in required.reason


def test_reason_is_one_line_for_the_candidate_env():
    multi = PreflightCheck(
        name="role_authz_smoke", status="failed", reason="a\nb\r\nc", classification="release_blocker"
    )
    assert "\n" not in rules.summarize_preflight([multi], ADVISORY).reason


def test_repository_without_release_config_is_not_run_and_blocks_only_when_required():
    report = rules.preflight_not_configured(ADVISORY, "c" * 40, ".pc-release.yaml")
    assert report.status == "not_run" and ".pc-release.yaml does not exist at cccccccccccc" in report.reason
    assert rules.preflight_gate(report, ADVISORY).ok
    assert not rules.preflight_gate(rules.preflight_not_configured(REQUIRE, "c" * 40, ".pc-release.yaml"), REQUIRE).ok


@pytest.mark.parametrize(
    ("check", "status"),
    [
        (ok("playwright_e2e"), "passed"),
        (skipped("playwright_e2e"), "warning"),
        (bad("playwright_e2e", "local_instability"), "warning"),
        (bad("playwright_e2e", "environment_drift"), "warning"),
        (bad("playwright_e2e", "release_blocker"), "failed"),
    ],
)
def test_check_verdict_shows_a_release_blocker_as_an_error_and_noise_as_a_warning(check, status):
    verdict = rules.check_verdict(check)
    assert (verdict.status, verdict.rule) == (status, check.name)
    if check.classification:
        assert verdict.reason.startswith(f"{check.classification}: ")
        assert verdict.evidence["classification"] == check.classification
