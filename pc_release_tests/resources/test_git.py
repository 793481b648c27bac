"""GitResource on real repositories: resolution, reachability, leases."""

import pytest

from pc_release.errors import InvalidInput, LeaseLost
from pc_release.resources.git import GitResource
from pc_release_tests.gitworld import RELEASE_BRANCH, git


def clone_of_path(path):
    clone = GitResource(repo_path=str(path)).clone()
    clone.fetch()
    return clone


def clone_of(world):
    return clone_of_path(world.clone)


def test_resolve_gives_one_full_sha(world):
    clone = clone_of(world)
    head = git(world.clone, "rev-parse", "HEAD")
    assert clone.resolve("origin/master") == head
    assert clone.resolve(head) == head


@pytest.mark.parametrize(
    ("ref", "rule"),
    [
        ("--upload-pack=touch pwned", "ref-syntax"),
        ("does-not-exist", "unknown-ref"),
        ("0" * 40, "unknown-ref"),
        ("abcdef1", "exact-sha"),
    ],
)
def test_resolve_refuses(world, tmp_path, ref, rule):
    with pytest.raises(InvalidInput) as err:
        clone_of(world).resolve(ref)
    assert err.value.rule == rule
    assert not (world.clone / "pwned").exists()


def test_reachability_and_release_only_commits(world):
    feature = world.commit("feature work")  # local only: not on origin/master
    git(world.clone, "push", "-q", "origin", f"{feature}:refs/heads/feature")
    clone = clone_of(world)
    assert clone.is_on_master(clone.resolve("origin/master"))
    assert not clone.is_on_master(feature)
    git(world.clone, "push", "-q", "--force", "origin", f"{feature}:refs/heads/{RELEASE_BRANCH}")
    clone.fetch()
    only = clone.commits_not_on_master(clone.release_ref)
    assert [c.subject for c in only] == ["feature work"]


def test_dirty_paths(world):
    clone = clone_of(world)
    assert clone.dirty_paths() == []
    (world.clone / "README.md").write_text("edited\n")
    (world.clone / "new.txt").write_text("x\n")
    assert sorted(clone.dirty_paths()) == ["README.md", "new.txt"]


def test_push_with_lease_moves_branch(world):
    new = world.commit("next")
    world.push("master")
    clone = clone_of(world)
    before = clone.remote_release_sha()
    assert clone.push_release(new, expected=before) is True
    assert world.release_sha() == new
    assert clone.push_release(new, expected=new) is False  # already there: idempotent


def test_concurrent_push_is_never_overwritten(world):
    mine = world.commit("my change")
    world.push("master")
    clone = clone_of(world)
    read = clone.remote_release_sha()
    git(world.other, "pull", "-q", "origin", "master")
    concurrent = world.commit("someone else's promotion", where=world.other)
    world.push(f"{concurrent}:refs/heads/{RELEASE_BRANCH}", where=world.other)
    with pytest.raises(LeaseLost) as err:
        clone.push_release(mine, expected=read)
    assert world.release_sha() == concurrent
    assert err.value.rule == "release-branch-lease"
    assert "concurrent value was kept" in str(err.value)


def test_a_push_reports_pushed_only_when_it_moved_the_branch(world):
    head = world.commit("next")
    world.push("master")
    first, second = (clone_of_path(path) for path in (world.clone, world.other))
    before = second.remote_release_sha()

    assert first.push_release(head, expected=before) is True
    # The second read the branch before the first pushed: its push of the same SHA finds it already there.
    assert second.push_release(head, expected=before) is False
    assert world.release_sha() == head
