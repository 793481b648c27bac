"""A refused promotion reads as a refusal, not a crash: the step fails with a dg.Failure naming the rule, the reason
and the evidence, and the run carries the rule and reason as tags, which is what the Runs list shows."""

import dagster as dg

from pc_release.defs.promotion.refusal import REFUSED_REASON_TAG, REFUSED_RULE_TAG
from pc_release_tests.defs.test_promotion_job import advance_master
from pc_release_tests.gitworld import git
from pc_release_tests.promotion_harness import promote, release_pipelines


def _failures(out) -> list[dg.DagsterEvent]:
    return out.result.get_step_failure_events()


def test_bad_input_is_a_failure_with_the_rule_and_reason_not_a_wrapped_crash(world, gitlab_server, instance):
    out = promote(world, gitlab_server.url, instance, config={"source_ref": "master~1"})

    assert not out.success
    [failure] = _failures(out)
    data = failure.step_failure_data
    assert data.error.cls_name == "Failure"
    assert data.error.cause is None
    metadata = {key: value.value for key, value in data.user_failure_data.metadata.items()}
    assert metadata["rule"] == "ref-syntax"
    assert "full SHA" in metadata["reason"]
    tags = instance.get_run_by_id(out.result.run_id).tags
    assert tags[REFUSED_RULE_TAG] == "ref-syntax"
    assert tags[REFUSED_REASON_TAG] == metadata["reason"]
    assert "ref-syntax" in out.summary.failed_rules


def test_a_failed_gate_tags_the_run_with_its_rule_and_reason(world, gitlab_server, instance):
    feature = world.commit("unmerged feature")
    git(world.clone, "push", "-q", "origin", f"{feature}:refs/heads/feature")

    out = promote(world, gitlab_server.url, instance, config={"source_ref": "origin/feature"})

    assert not out.success
    tags = instance.get_run_by_id(out.result.run_id).tags
    assert tags[REFUSED_RULE_TAG] == "reachable_from_master"
    assert tags[REFUSED_REASON_TAG].startswith("reachable_from_master: ")
    assert out.evaluation("reachable_from_master").description in tags[REFUSED_REASON_TAG]
    assert release_pipelines(gitlab_server) == []


def test_red_or_missing_master_ci_tags_the_run_with_the_primary_gate(world, gitlab_server, instance):
    advance_master(world)
    out = promote(world, gitlab_server.url, instance)

    tags = instance.get_run_by_id(out.result.run_id).tags
    assert tags[REFUSED_RULE_TAG] == "master_ci_green_on_exact_sha"


def test_a_refusal_carries_the_evidence_its_rule_judged(world, gitlab_server, instance):
    (world.clone / "README.md").write_text("uncommitted\n")
    try:
        out = promote(world, gitlab_server.url, instance, job="dev_test_deploy", config={"source_ref": "HEAD"})
    finally:
        git(world.clone, "checkout", "--", "README.md")

    [failure] = _failures(out)
    metadata = {key: value.value for key, value in failure.step_failure_data.user_failure_data.metadata.items()}
    assert metadata["rule"] == "dev_test_clean_tree"
    assert metadata["dirty_paths"] == ["README.md"]
    assert instance.get_run_by_id(out.result.run_id).tags[REFUSED_RULE_TAG] == "dev_test_clean_tree"
