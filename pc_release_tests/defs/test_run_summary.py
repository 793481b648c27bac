"""What a promotion says when it ends is what happened: pushed or not, candidate written or not, pipeline created
or not, and the command that converges when it stopped half way."""

from pc_release_tests.defs.test_promotion_job import advance_master, green_master
from pc_release_tests.promotion_harness import gitlab_down_at_trigger, promote, release_pipelines


def test_failure_after_the_push_says_the_branch_moved_and_how_to_converge(world, gitlab_server, instance):
    head = advance_master(world)
    green_master(gitlab_server, world)

    out = promote(
        world,
        gitlab_server.url,
        instance,
        config={"mode": "deploy", "skip_local_preflight": True},
        resources={"gitlab": gitlab_down_at_trigger(gitlab_server.url)},
    )

    assert not out.success
    assert world.release_sha() == head
    text = out.summary.text
    assert "nothing after the failed gate ran" not in text
    assert f"release branch moved to {head} (pushed)" in text
    assert f"candidate env written for {head}" in text
    assert "no release pipeline created" in text
    command = f"pc-release promote {head} --mode deploy --skip-local-preflight"
    assert f"to converge run: {command}" in text

    again = promote(
        world, gitlab_server.url, instance, config={"source_ref": head, "mode": "deploy", "skip_local_preflight": True}
    )
    assert again.success, again.summary.text
    (pipeline,) = release_pipelines(gitlab_server)
    assert f"release branch already at {head} (nothing pushed)" in again.summary.text
    assert f"release pipeline {pipeline['id']} created" in again.summary.text


def test_refusal_before_the_push_says_nothing_was_pushed(world, gitlab_server, instance):
    advance_master(world)  # no master CI on the new head
    out = promote(world, gitlab_server.url, instance)
    assert not out.success
    text = out.summary.text
    assert "release branch not moved (nothing pushed); candidate env not written; no release pipeline created" in text
    assert "to converge" not in text
