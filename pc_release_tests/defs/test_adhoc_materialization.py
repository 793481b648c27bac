"""The UI's ad-hoc asset job ("Materialize" on an asset page, "Materialize all") never moves the release branch,
writes a candidate or triggers a pipeline: only a promotion run does, from gates it evaluated itself."""

import dagster as dg
import pytest

from pc_release.definitions import build_definitions
from pc_release.defs.promotion.assets import GATED_UPSTREAM
from pc_release.reporting import summarize_run
from pc_release_tests.defs.test_promotion_job import advance_master, green_master
from pc_release_tests.gitworld import git
from pc_release_tests.promotion_harness import promote, release_pipelines, settings_for


def adhoc(world, gitlab_url, instance, assets: list[str]):
    """What the UI's Materialize button launches: the implicit asset job over the selected assets."""
    defs = build_definitions(settings_for(world, gitlab_url, world.clone.parent / "dist"))
    job = defs.resolve_implicit_global_asset_job_def()
    config = {"ops": {"source_commit": {"config": {}}}} if "source_commit" in assets else {}
    return job.execute_in_process(
        run_config=config,
        instance=instance,
        asset_selection=[dg.AssetKey(name) for name in assets],
        raise_on_error=False,
    )


@pytest.fixture
def refused_feature(world, gitlab_server, instance):
    """A released master head, then a promotion of an unmerged SHA that reachable_from_master refused: the stored
    source_commit value is now that SHA, local_preflight and readiness values are the earlier run's."""
    advance_master(world)
    green_master(gitlab_server, world)
    assert promote(world, gitlab_server.url, instance).success
    feature = world.commit("unmerged feature")
    git(world.clone, "push", "-q", "origin", f"{feature}:refs/heads/feature")
    refused = promote(world, gitlab_server.url, instance, config={"source_ref": "origin/feature"})
    assert refused.check("reachable_from_master") is False
    return feature


@pytest.mark.parametrize(
    "assets",
    [["release_branch"], ["release_candidate"], ["release_pipeline"], ["release_branch", "release_candidate"]],
)
def test_materializing_a_writing_asset_alone_is_refused(world, gitlab_server, instance, refused_feature, assets):
    before = world.release_sha()
    candidate = (world.clone.parent / "dist" / "platform-control-release-candidate.env").read_text()
    pipelines = len(release_pipelines(gitlab_server))

    result = adhoc(world, gitlab_server.url, instance, assets)

    assert not result.success
    summary = summarize_run(instance, result.run_id)
    assert "promotion-job-only" in summary.failed_rules, summary.text
    assert "ad-hoc materialization" in summary.text
    assert world.release_sha() == before != refused_feature
    assert (world.clone.parent / "dist" / "platform-control-release-candidate.env").read_text() == candidate
    assert len(release_pipelines(gitlab_server)) == pipelines


def test_materialize_all_runs_the_reads_but_writes_nothing(world, gitlab_server, instance, refused_feature):
    before = world.release_sha()
    advance_master(world, "newer head")
    green_master(gitlab_server, world)
    pipelines = len(release_pipelines(gitlab_server))

    result = adhoc(
        world,
        gitlab_server.url,
        instance,
        [*GATED_UPSTREAM, "release_branch", "release_candidate", "release_pipeline"],
    )

    assert not result.success
    summary = summarize_run(instance, result.run_id)
    assert "promotion-job-only" in summary.failed_rules, summary.text
    assert world.release_sha() == before
    assert len(release_pipelines(gitlab_server)) == pipelines


def test_a_promotion_run_still_writes(world, gitlab_server, instance, refused_feature):
    head = advance_master(world, "newer head")
    green_master(gitlab_server, world)
    out = promote(world, gitlab_server.url, instance)
    assert out.success, out.summary.text
    assert world.release_sha() == head
