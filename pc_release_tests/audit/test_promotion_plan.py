"""The plan_promotion job: what a promotion would do, and proof that planning pushes and triggers nothing."""

import dagster as dg

from pc_release.definitions import build_definitions
from pc_release.defs.audit.assets import PLAN_VERDICT_TAG
from pc_release.policy.gates import BY_NAME, GATES
from pc_release.resources.files import CANDIDATE_FILE
from pc_release_tests.audit.steps import advance_master, green, released_platform
from pc_release_tests.gitworld import git
from pc_release_tests.promotion_harness import release_pipelines, settings_for


def plan(world, gitlab_url, instance, **config):
    dist = world.clone.parent / "dist"
    job = build_definitions(settings_for(world, gitlab_url, dist)).resolve_job_def("plan_promotion")
    result = job.execute_in_process(
        run_config={"ops": {"promotion_plan": {"config": config}}}, instance=instance, raise_on_error=False
    )
    assert result.success
    return result.asset_value("promotion_plan"), result


def plan_verdict(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "plan_would_proceed"]
    return evaluation


def gates(promotion_plan) -> dict[str, str]:
    return {gate.name: gate.outcome for gate in promotion_plan.gates}


def side_effects(world, server):
    return (
        world.release_sha(),
        len(release_pipelines(server)),
        (world.clone.parent / "dist" / CANDIDATE_FILE).read_text(),
    )


def test_plan_shows_shas_commits_files_gates_variables_and_refusals(world, gitlab_server, instance):
    released = released_platform(world, gitlab_server, instance)
    advance_master(world, "api change", {"runtimes/api/app.py": "app = 'api v2'\n"})
    head = advance_master(world, "web tweak", {"frontend/app.js": "console.log('tweak')\n", "frontend/old.js": ""})
    green(gitlab_server, head)
    before = side_effects(world, gitlab_server)
    gitlab_server.reset_request_log()

    web_fast, result = plan(world, gitlab_server.url, instance, profile="web-fast", mode="deploy")

    assert web_fast.sha == head and web_fast.release_sha == released
    assert web_fast.commits_to_ship == 2
    assert [c.subject for c in web_fast.commits_to_ship_shown] == ["web tweak", "api change"]
    assert web_fast.commits_dropped == 0
    assert {(f.status, f.path) for f in web_fast.files_shown} == {
        ("M", "runtimes/api/app.py"),
        ("M", "frontend/app.js"),
        ("A", "frontend/old.js"),
    }
    assert web_fast.pipeline_variables["PLATFORM_CONTROL_RELEASE_MODE"] == "deploy"
    assert web_fast.pipeline_variables["PLATFORM_CONTROL_RELEASE_PROFILE"] == "web-fast"
    assert [v.rule for v in web_fast.refusals] == ["web_fast_eligible"]
    assert "runtimes/api/app.py" in web_fast.refusals[0].reason
    # Gates other domains add to the promotion show up too; these are the ones whose outcome is known here.
    expected = {
        "reachable_from_master": "would pass",
        "release_branch_guard": "would pass",
        "web_fast_eligible": "would refuse",
        "master_ci_green_on_exact_sha": "would pass",
        "gitlab_can_trigger_release_pipeline": "would pass",
        "local_preflight_gate": "evaluated during the promotion",
        "candidate_matches_release_branch": "evaluated during the promotion",
    }
    assert {name: outcome for name, outcome in gates(web_fast).items() if name in expected} == expected
    assert any(f"from {released} to {head}" in action for action in web_fast.actions)
    (materialization,) = result.asset_materializations_for_node("promotion_plan")
    assert materialization.metadata["would_proceed"].value is False
    assert "Would be refused" in materialization.metadata["plan"].value

    standard, _ = plan(world, gitlab_server.url, instance)
    assert standard.would_proceed
    assert gates(standard)["web_fast_eligible"] == "would pass"
    assert standard.pipeline_variables["PLATFORM_CONTROL_RELEASE_MODE"] == "full"

    assert side_effects(world, gitlab_server) == before
    # Per plan: the master pipeline for the SHA, the project (the token's access level), the release branch.
    assert [method for method, _ in gitlab_server.request_log] == ["GET"] * 6


def test_plan_names_the_rules_that_would_refuse(world, gitlab_server, instance):
    released = released_platform(world, gitlab_server, instance)
    feature = world.commit("unmerged feature")
    git(world.clone, "push", "-q", "origin", f"{feature}:refs/heads/feature")
    before = side_effects(world, gitlab_server)

    refused, result = plan(world, gitlab_server.url, instance, source_ref="origin/feature")

    assert refused.sha == feature and refused.release_sha == released
    assert {v.rule for v in refused.refusals} == {"reachable_from_master", "master_ci_green_on_exact_sha"}
    assert gates(refused)["reachable_from_master"] == "would refuse"
    assert side_effects(world, gitlab_server) == before
    # The run succeeds (planning worked), but it does not read as a green light: its check warns, naming the
    # refusing rules, and the run carries the verdict as a tag the Runs list shows.
    verdict = plan_verdict(result)
    assert (verdict.passed, verdict.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert "reachable_from_master" in verdict.description and "master_ci_green_on_exact_sha" in verdict.description
    assert instance.get_run_by_id(result.run_id).tags[PLAN_VERDICT_TAG] == "would-be-refused"

    head = advance_master(world, "fix")
    green(gitlab_server, head)
    proceeding, result = plan(world, gitlab_server.url, instance)
    assert proceeding.would_proceed
    assert plan_verdict(result).passed
    assert instance.get_run_by_id(result.run_id).tags[PLAN_VERDICT_TAG] == "would-proceed"


def test_plan_lists_every_registered_gate_and_evaluates_those_the_registry_says_it_does(world, gitlab_server, instance):
    released_platform(world, gitlab_server, instance)
    green(gitlab_server, advance_master(world, "change"))

    planned, _ = plan(world, gitlab_server.url, instance)

    assert [g.name for g in planned.gates] == [g.name for g in GATES]
    for gate in planned.gates:
        evaluated = gate.outcome != "evaluated during the promotion"
        assert evaluated == BY_NAME[gate.name].planned, gate


def test_plan_warns_in_advance_when_the_token_may_not_run_the_release_pipeline(world, instance, monkeypatch):
    from pc_release.sandbox.gitlab_server import SandboxGitLab
    from pc_release_tests.conftest import TOKEN

    protection = {"master": (40, 40), "release/platform-control": (40, 40)}
    with SandboxGitLab(
        origin=world.origin, token=TOKEN, developer_tokens=("developer-token",), protected_branches=protection
    ) as server:
        head = advance_master(world, "change")
        green(server, head)
        monkeypatch.setenv("PC_RELEASE_GITLAB_TOKEN", "developer-token")

        planned, _ = plan(world, server.url, instance)

        assert not planned.would_proceed
        assert [v.rule for v in planned.refusals] == ["gitlab_can_trigger_release_pipeline"]
        assert "release/platform-control is protected" in planned.refusals[0].reason
        assert gates(planned)["gitlab_can_trigger_release_pipeline"] == "would refuse"
        assert release_pipelines(server) == []
