"""The previous release is the last one pc-release recorded as released: not the branch's value after a crash
following our own push, and still known when someone deletes the branch."""

from pc_release_tests.gitworld import RELEASE_BRANCH, git
from pc_release_tests.pipeline.harness import green_master, released
from pc_release_tests.promotion_harness import gitlab_down_at_trigger, promote


def new_master_head(world, server, path: str) -> str:
    world.commit(f"change {path}", {path: path})
    world.push("master")
    return green_master(server, world)


def test_rerun_after_a_failure_following_the_push_keeps_the_real_previous_release(platform, instance, driver):
    world, server = platform
    first = released(world, server, instance, driver)
    sha = new_master_head(world, server, "runtimes/api/second.txt")

    broken = promote(
        world,
        server.url,
        instance,
        config={"skip_local_preflight": True},
        resources={"gitlab": gitlab_down_at_trigger(server.url)},
    )
    assert not broken.success
    assert world.release_sha() == sha  # the push happened; the pipeline did not

    rerun = promote(world, server.url, instance, config={"skip_local_preflight": True})

    assert rerun.success, rerun.summary.text
    assert rerun.candidate["PLATFORM_CONTROL_PREVIOUS_RELEASE_SHA"] == first != sha
    assert rerun.summary.metadata["source_commit"]["previous_release_sha"] == first
    # The schema upgrade gate and the other readiness checks compare with that release, not with the SHA itself.
    assert rerun.summary.metadata["release_readiness"]["released_sha"] == first


def test_a_deleted_release_branch_does_not_erase_the_previous_release(platform, instance, driver):
    world, server = platform
    first = released(world, server, instance, driver)
    git(world.clone, "push", "-q", "origin", f":refs/heads/{RELEASE_BRANCH}")
    sha = new_master_head(world, server, "runtimes/api/third.txt")

    out = promote(world, server.url, instance, config={"skip_local_preflight": True})

    assert out.success, out.summary.text
    assert world.release_sha() == sha
    assert out.candidate["PLATFORM_CONTROL_PREVIOUS_RELEASE_SHA"] == first
    assert out.summary.metadata["release_readiness"]["released_sha"] == first
