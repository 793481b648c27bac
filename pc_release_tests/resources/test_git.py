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


# A clone the run provisions itself, from the sandbox GitLab's repository over git's smart HTTP protocol.


@pytest.fixture
def served(world):
    from pc_release.sandbox.gitlab_server import SandboxGitLab
    from pc_release_tests.conftest import TOKEN

    with SandboxGitLab(origin=world.origin, token=TOKEN) as server:
        yield server


def provisioned(server, cache, token=None):
    from pc_release_tests.conftest import TOKEN

    return GitResource(repository_url=server.repository_url, clone_cache=str(cache), token=token or TOKEN).clone()


def test_first_use_clones_from_the_project_url_and_later_uses_fetch(world, served, tmp_path):
    cache = tmp_path / "cache"
    first = provisioned(served, cache)
    assert first.master_sha() == world.remote_sha("master")
    assert first.remote_urls() == [served.repository_url]

    newer = world.commit("arrives later")
    world.push("HEAD:master")
    second = provisioned(served, cache)  # a later run: the same clone, not a second one
    assert second.path == first.path
    second.fetch()  # over HTTP, authenticated the same way
    assert second.master_sha() == newer
    assert [p.name for p in cache.iterdir() if p.is_dir()] == [first.path.name]


def test_finding_the_clone_again_costs_no_fetch(served, tmp_path, monkeypatch):
    """An idle master_ci_sensor tick asks the remote for its heads only; finding its clone must add nothing."""
    import git as gitpython

    cache = tmp_path / "cache"
    provisioned(served, cache)
    commands = []
    execute = gitpython.Git.execute
    monkeypatch.setattr(
        gitpython.Git, "execute", lambda self, cmd, *a, **k: commands.append(cmd) or execute(self, cmd, *a, **k)
    )
    clone = provisioned(served, cache)
    assert not any(verb in command for command in commands for verb in ("fetch", "clone")), commands
    assert clone.remote_release_sha()  # and it reads the remote, authenticated


def test_the_token_is_in_no_config_file_and_no_command_line(world, served, tmp_path, monkeypatch):
    import base64

    import git as gitpython

    from pc_release_tests.conftest import TOKEN

    commands = []
    execute = gitpython.Git.execute

    def recording(self, command, *args, **kwargs):
        commands.append(list(command))
        return execute(self, command, *args, **kwargs)

    world.commit("to promote")
    world.push("HEAD:master")
    monkeypatch.setattr(gitpython.Git, "execute", recording)
    clone = provisioned(served, tmp_path / "cache")
    clone.fetch()
    assert clone.push_release(clone.master_sha(), clone.remote_release_sha())  # pushes over HTTP, authenticated

    encoded = base64.b64encode(f"pc-release:{TOKEN}".encode()).decode()
    assert any("clone" in command for command in commands)
    for command in commands:
        assert not any(TOKEN in arg or encoded in arg for arg in command), command
    for config in [clone.path / ".git" / "config", *(tmp_path / "cache").rglob("config")]:
        text = config.read_text()
        assert TOKEN not in text and encoded not in text
    assert world.release_sha() == world.remote_sha("master")


def test_a_failing_git_command_never_shows_the_token(served, tmp_path):
    from pc_release.errors import GitOperationError
    from pc_release_tests.conftest import TOKEN

    clone = provisioned(served, tmp_path / "cache")
    with pytest.raises(GitOperationError) as err:
        clone.reader.run("fetch", "origin", f"refs/heads/{TOKEN}")  # git echoes the missing ref back
    assert TOKEN not in str(err.value)
    assert "[REDACTED]" in str(err.value)


def test_a_wrong_token_is_refused_and_leaves_no_clone(served, tmp_path):
    from pc_release.errors import GitOperationError

    cache = tmp_path / "cache"
    with pytest.raises(GitOperationError) as err:
        provisioned(served, cache, token="glpat-wrong-token-0123456789")
    assert "glpat-wrong-token" not in str(err.value)
    assert not [p for p in cache.iterdir() if p.is_dir()]
    assert provisioned(served, cache).master_sha()  # the right token then clones


def test_runs_starting_together_clone_once(world, served, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    cache = tmp_path / "cache"
    with ThreadPoolExecutor(3) as pool:
        clones = list(pool.map(lambda _: provisioned(served, cache), range(3)))
    assert {clone.path for clone in clones} == {clones[0].path}
    assert {clone.master_sha() for clone in clones} == {world.remote_sha("master")}
    assert [p.name for p in cache.iterdir() if p.is_dir()] == [clones[0].path.name]


def test_a_url_carrying_a_password_is_refused(tmp_path):
    from pc_release.errors import ConfigurationError

    resource = GitResource(repository_url="http://user:secret@127.0.0.1:1/p.git", clone_cache=str(tmp_path))
    with pytest.raises(ConfigurationError) as err:
        resource.clone()
    assert err.value.rule == "repository-url-credentials"
    assert "secret" not in str(err.value)


def test_settings_choose_a_local_clone_unless_a_provisioned_one_is_asked_for(monkeypatch, tmp_path):
    from pc_release.definitions import build_resources
    from pc_release.settings import Settings

    monkeypatch.setenv("PC_RELEASE_GITLAB_URL", "http://127.0.0.1:8929/")
    assert build_resources(Settings())["git"].repo_path == "."
    monkeypatch.setenv("PC_RELEASE_CLONE_CACHE", str(tmp_path))
    git_resource = build_resources(Settings())["git"]
    assert git_resource.repo_path is None
    assert git_resource.repository_url == "http://127.0.0.1:8929/platform/platform-control.git"
    assert git_resource.clone_cache == str(tmp_path)
    monkeypatch.setenv("PC_RELEASE_REPO_PATH", str(tmp_path / "mine"))
    assert build_resources(Settings())["git"].repo_path == str(tmp_path / "mine")
