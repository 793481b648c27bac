"""local_preflight end to end: promote_release and dev_test_deploy on the real sample repo and real git, the
sandbox GitLab over HTTP, a real Dagster instance, and the real Playwright suite on Debian's chromium.

Variants of the sample (a failing assertion, a flaky test, a missing browser) are commits on master of a
fresh copy, never edits of the template. Real Playwright runs are the slow part: five in this module.
"""

import re

import dagster as dg
import pytest

from pc_release.resources.kubernetes import KubernetesResource
from pc_release.sandbox.gitlab_server import SandboxGitLab, connect_clone
from pc_release_tests.conftest import GIT_TOKEN_VARIABLE, TOKEN
from pc_release_tests.gitworld import git
from pc_release_tests.kube_api import KubeApi
from pc_release_tests.preflight.conftest import (
    KIND_OVERLAY,
    PLATFORM_OVERLAY,
    commit_variant,
    edit_release_config,
    green_master,
    replace_in,
    sample_world,
    with_node,
)
from pc_release_tests.promotion_harness import promote, release_pipelines

CHECKS = ("playwright_e2e", "role_authz_smoke", "kind_parity")


@pytest.fixture
def sample(tmp_path):
    world = sample_world(tmp_path / "sample")
    with SandboxGitLab(origin=world.origin, token=TOKEN) as server:
        connect_clone(world.clone, "origin", server.repository_url, GIT_TOKEN_VARIABLE)
        yield world, server


def meta(evaluation: dg.AssetCheckEvaluation) -> dict:
    return {key: getattr(value, "value", value) for key, value in evaluation.metadata.items()}


def worktrees(world) -> int:
    return git(world.clone, "worktree", "list", "--porcelain").count("worktree ")


def make_flaky(repo):
    replace_in(
        repo / "frontend/e2e/roles.spec.js",
        "test('admin lists the seeded bindings', async ({ page }) => {\n",
        "test('admin lists the seeded bindings', async ({ page }, testInfo) => {\n"
        "  expect(testInfo.retry, 'the first attempt fails').toBeGreaterThan(0);\n",
    )


def break_audit_authz_expectation(repo):
    replace_in(
        repo / "frontend/e2e/audit-log.spec.js",
        "expect(response.status()).toBe(403);",
        "expect(response.status()).toBe(200);",
    )


def remove_browser(repo):
    def change(data):
        data["preflight"]["checks"]["playwright_e2e"]["env"] |= {
            "PLAYWRIGHT_CHROMIUM_EXECUTABLE": "/nonexistent/chromium",
            "PLAYWRIGHT_RETRIES": "0",
        }

    edit_release_config(repo, change)


def test_advisory_green_preflight_passes_full_with_live_kind_cluster(sample, instance, tmp_path):
    world, server = sample
    head = commit_variant(world, "docs: release notes", lambda repo: (repo / "NOTES.md").write_text("notes\n"))
    green_master(server, world)
    with KubeApi(namespace="platform-control") as kube:
        kube.apply_dir(world.clone / KIND_OVERLAY)
        kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig", context="kind-platform-control")
        resources = with_node() | {
            "kubernetes": KubernetesResource(kubeconfig=str(kubeconfig), context="kind-platform-control")
        }
        out = promote(world, server.url, instance, resources=resources)

    assert out.success, out.summary.text
    assert world.release_sha() == head
    assert len(release_pipelines(server)) == 1
    assert out.candidate["PLATFORM_CONTROL_LOCAL_PREFLIGHT"] == "passed"
    assert out.candidate["PLATFORM_CONTROL_LOCAL_PREFLIGHT_REASON"] == (
        "3 check(s) passed: playwright_e2e, role_authz_smoke, kind_parity"
    )
    assert all(out.check(name) is True for name in (*CHECKS, "local_preflight_gate"))
    e2e = meta(out.evaluation("playwright_e2e"))
    assert (e2e["count_passed"], e2e["count_failed"], e2e["count_flaky"]) == (10, 0, 0)
    # The counts are Playwright's own: its JSON report's stats say the same.
    assert e2e["report_declares"] == ["passed=10", "failed=0", "flaky=0", "skipped=0"]
    assert e2e["exit_code"] == 0 and e2e["report_format"] == "playwright-json"
    smoke = meta(out.evaluation("role_authz_smoke"))
    assert (smoke["count_passed"], smoke["report_format"]) == (6, "junit-xml")
    parity = out.evaluation("kind_parity")
    assert "live kind cluster (namespace platform-control) mirror" in parity.description
    record = out.summary.metadata["local_preflight"]
    assert (record["status"], record["scope"], record["blocking"]) == ("passed", "full", False)
    assert record["duration_seconds"] >= record["slowest_check_seconds"] > 0
    assert worktrees(world) == 1
    logged = "\n".join(str(entry) for entry in instance.all_logs(out.result.run_id))
    assert TOKEN not in logged


def test_advisory_flaky_e2e_continues_with_local_instability_recorded(sample, instance):
    world, server = sample
    head = commit_variant(world, "e2e: flaky roles test", make_flaky)
    green_master(server, world)

    out = promote(world, server.url, instance, resources=with_node())

    assert out.success, out.summary.text
    assert world.release_sha() == head and len(release_pipelines(server)) == 1
    assert out.candidate["PLATFORM_CONTROL_LOCAL_PREFLIGHT"] == "failed"
    reason = out.candidate["PLATFORM_CONTROL_LOCAL_PREFLIGHT_REASON"]
    assert reason.startswith("playwright_e2e local_instability: 1 flaky test(s) failed, then passed on retry: ")
    assert "'admin lists the seeded bindings' (frontend/e2e/roles.spec.js:5)" in reason
    gate = out.evaluation("local_preflight_gate")
    assert not gate.passed and gate.severity == dg.AssetCheckSeverity.WARN
    assert "advisory, promotion continues" in gate.description
    e2e = out.evaluation("playwright_e2e")
    assert not e2e.passed and e2e.severity == dg.AssetCheckSeverity.WARN
    values = meta(e2e)
    assert values["classification"] == "local_instability"
    assert (values["count_passed"], values["count_flaky"], values["count_failed"]) == (9, 1, 0)
    assert values["flaky_tests"] == ["admin lists the seeded bindings (frontend/e2e/roles.spec.js:5)"]
    assert out.check("role_authz_smoke") is True and out.check("kind_parity") is True
    assert out.summary.metadata["local_preflight"]["classifications"] == {"playwright_e2e": "local_instability"}


def test_require_blocks_a_failing_assertion_as_release_blocker_and_pushes_nothing(sample, instance):
    world, server = sample
    before = world.release_sha()
    commit_variant(world, "e2e: audit log expectation", break_audit_authz_expectation)
    green_master(server, world)

    out = promote(world, server.url, instance, config={"require_local_preflight": True}, resources=with_node())

    assert not out.success
    assert world.release_sha() == before
    assert release_pipelines(server) == []
    assert out.candidate is None
    gate = out.evaluation("local_preflight_gate")
    assert not gate.passed and gate.severity == dg.AssetCheckSeverity.ERROR
    assert gate.description.startswith("PLATFORM_CONTROL_REQUIRE_LOCAL_PREFLIGHT=true and local preflight is failed")
    assert "local_preflight_gate" in out.summary.failed_rules
    e2e = out.evaluation("playwright_e2e")
    assert e2e.severity == dg.AssetCheckSeverity.ERROR
    values = meta(e2e)
    assert values["classification"] == "release_blocker"
    assert values["failing_tests"] == ["viewer cannot read the audit log (frontend/e2e/audit-log.spec.js:21)"]
    assert (values["count_failed"], values["count_passed"]) == (1, 9)
    assert "Expected: 200" in values["failures"] and "| 2 |" in values["failures"]
    assert out.summary.metadata["local_preflight"]["status"] == "failed"
    assert worktrees(world) == 1
    # The run log gets one line for the preflight: the gate's verdict and each check's outcome.
    [line] = [
        entry.user_message
        for entry in instance.all_logs(out.result.run_id)
        if not entry.is_dagster_event and entry.step_key == "local_preflight"
    ]
    assert line.startswith(gate.description), line
    assert "playwright_e2e failed (release_blocker)" in line, line


def test_dev_test_asked_for_preflight_blocks_on_a_missing_browser_as_environment_drift(sample, instance):
    world, server = sample
    before = world.release_sha()
    commit_variant(world, "preflight: chromium elsewhere", remove_browser)

    out = promote(
        world,
        server.url,
        instance,
        job="dev_test_deploy",
        config={"require_local_preflight": True},
        resources=with_node(),
    )

    assert not out.success
    assert world.release_sha() == before and release_pipelines(server) == []
    values = meta(out.evaluation("playwright_e2e"))
    assert values["classification"] == "environment_drift"
    # Playwright's own words, matched by one of the repository's configured drift signatures.
    assert "Failed to launch chromium because executable doesn't exist at /nonexistent/chromium" in values["failures"]
    assert re.search(values["drift_signature"], values["failures"])
    assert values["count_failed"] == 10
    assert "environment-drift signature" in out.evaluation("playwright_e2e").description
    assert "playwright_e2e environment_drift" in out.evaluation("local_preflight_gate").description


def test_scoped_frontend_preflight_is_recorded_as_scoped_never_full(sample, instance):
    world, server = sample
    commit_variant(world, "docs", lambda repo: (repo / "NOTES.md").write_text("notes\n"))
    green_master(server, world)

    out = promote(world, server.url, instance, config={"preflight_scope": "viewer cannot read"}, resources=with_node())

    assert out.success, out.summary.text
    assert out.candidate["PLATFORM_CONTROL_LOCAL_PREFLIGHT"] == "scoped_passed"
    assert out.candidate["PLATFORM_CONTROL_LOCAL_PREFLIGHT_REASON"].startswith(
        "scoped to 'viewer cannot read' (debugging override, not the full preflight); "
    )
    values = meta(out.evaluation("playwright_e2e"))
    assert values["scope"] == "viewer cannot read"
    assert (values["count_passed"], values["count_failed"]) == (1, 0)
    gate = out.evaluation("local_preflight_gate")
    assert not gate.passed and gate.severity == dg.AssetCheckSeverity.WARN
    assert out.summary.metadata["local_preflight"]["scope"] == "viewer cannot read"


def test_skip_is_recorded_as_intentional_and_nothing_runs(sample, instance, monkeypatch):
    world, server = sample
    # A variant that would fail, to show a skipped preflight does not even look at it.
    head = commit_variant(world, "e2e: audit log expectation", break_audit_authz_expectation)
    green_master(server, world)
    monkeypatch.setenv("PLATFORM_CONTROL_SKIP_LOCAL_PREFLIGHT", "true")

    out = promote(world, server.url, instance, resources=with_node())

    assert out.success, out.summary.text
    assert world.release_sha() == head and len(release_pipelines(server)) == 1
    assert out.candidate["PLATFORM_CONTROL_LOCAL_PREFLIGHT"] == "skipped"
    assert out.candidate["PLATFORM_CONTROL_LOCAL_PREFLIGHT_REASON"] == (
        "skipped intentionally (PLATFORM_CONTROL_SKIP_LOCAL_PREFLIGHT=true)"
    )
    for name in CHECKS:
        evaluation = out.evaluation(name)
        assert evaluation.severity == dg.AssetCheckSeverity.WARN and not evaluation.passed
        assert evaluation.description.startswith("skipped: skipped intentionally")
        assert "count_passed" not in meta(evaluation)
    assert out.summary.metadata["local_preflight"]["status"] == "skipped"


def test_dev_test_skips_preflight_by_default(sample, instance):
    world, server = sample
    feature = world.commit("unmerged experiment", {"frontend/src/experiment.mjs": "export const x = 1;\n"})
    git(world.clone, "push", "-q", "origin", f"{feature}:refs/heads/feature")

    out = promote(world, server.url, instance, job="dev_test_deploy", config={"source_ref": "origin/feature"})

    assert out.success, out.summary.text
    assert world.release_sha() == feature
    assert out.candidate["PLATFORM_CONTROL_LOCAL_PREFLIGHT"] == "skipped"
    assert out.candidate["PLATFORM_CONTROL_LOCAL_PREFLIGHT_REASON"] == "skipped by the dev-test bypass (default)"
    assert out.candidate["PLATFORM_CONTROL_RELEASE_KIND"] == "dev-test"
    assert out.evaluation("playwright_e2e").description == "skipped: skipped by the dev-test bypass (default)"


def test_overlay_drift_and_missing_node_packages_are_classified_apart(sample, instance):
    # No PC_RELEASE_NODE_MODULES: the e2e cannot run here (drift), while the overlays really drifted (blocker).
    world, server = sample

    def drop_ws_key(repo):
        replace_in(repo / PLATFORM_OVERLAY / "configmap.yaml", '  TERMINAL_WS_PATH: "/internal/terminal/ws"\n', "")

    head = commit_variant(world, "deploy: tidy platform config", drop_ws_key)
    green_master(server, world)

    out = promote(world, server.url, instance)

    assert out.success, out.summary.text
    assert world.release_sha() == head
    record = out.summary.metadata["local_preflight"]
    assert record["classifications"] == {"playwright_e2e": "environment_drift", "kind_parity": "release_blocker"}
    reason = out.candidate["PLATFORM_CONTROL_LOCAL_PREFLIGHT_REASON"]
    assert reason.startswith("kind_parity release_blocker: ")
    assert "configmap-key:platform-config/TERMINAL_WS_PATH only in kind" in reason
    assert "playwright_e2e environment_drift" in reason and "@playwright/test" in reason
    assert "review whether it is a real release blocker" in out.evaluation("local_preflight_gate").description
    assert out.evaluation("kind_parity").severity == dg.AssetCheckSeverity.ERROR
    assert out.check("role_authz_smoke") is True


def test_repository_without_release_config_blocks_only_when_required(world, gitlab_server, instance):
    head = git(world.clone, "rev-parse", "origin/master")
    pipeline = gitlab_server.create_pipeline("master", sha=head)
    gitlab_server.set_all_jobs_status(pipeline["id"], "success")

    out = promote(world, gitlab_server.url, instance, config={"require_local_preflight": True})

    assert not out.success
    assert "does not exist at" in out.evaluation("local_preflight_gate").description
    assert out.summary.metadata["local_preflight"]["status"] == "not_run"
