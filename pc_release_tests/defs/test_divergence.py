"""Moving release/platform-control off commits master lacks, through the real entry points: the divergence
override (promote_release and `pc-release promote --allow-divergence`), the normal flow after a dev-test deploy,
and the drift audit that follows them. No commit may be left reachable from nothing."""

from pc_release_tests.audit.steps import advance_master, green, release_edit, run_audit
from pc_release_tests.audit.test_promotion_plan import gates, plan
from pc_release_tests.conftest import TOKEN
from pc_release_tests.gitworld import git
from pc_release_tests.promotion_harness import PROJECT, promote, release_pipelines
from pc_release_tests.test_cli import pc_release

KEPT = "refs/pc-release/diverged/"


def refs_containing(repo, sha: str) -> list[str]:
    return git(repo, "for-each-ref", "--contains", sha, "--format=%(refname)").split()


def kept_refs(repo, sha: str) -> list[str]:
    return [ref for ref in refs_containing(repo, sha) if ref.startswith(KEPT)]


def force_pushed_master(world, server, instance) -> list[str]:
    """Three commits are released from master, then master is force-pushed without them: they are release-only."""
    base = git(world.clone, "rev-parse", "origin/master")
    lost = [advance_master(world, f"incident fix {n}") for n in (1, 2, 3)]
    green(server, lost[-1])
    released = promote(world, server.url, instance)
    assert released.success, released.summary.text
    git(world.clone, "reset", "-q", "--hard", base)
    head = advance_master(world, "master rewritten")
    green(server, head)
    return lost


def describe(world, sha: str) -> str:
    return f"{sha} Dev Eloper: {git(world.clone, 'log', '-1', '--format=%s', sha)}"


def test_override_keeps_release_only_commits_under_a_ref_and_the_audit_flags_them(world, gitlab_server, instance):
    lost = force_pushed_master(world, gitlab_server, instance)
    head = git(world.clone, "rev-parse", "origin/master")

    out = promote(world, gitlab_server.url, instance, config={"allow_divergence": True})

    assert out.success, out.summary.text
    assert world.release_sha() == head
    # Every commit the release branch was moved off is still reachable, on the remote and in the clone.
    for sha in lost:
        (kept,) = refs_containing(world.origin, sha)
        assert kept.startswith(KEPT) and kept.endswith(f"-{lost[-1]}")
        assert kept in refs_containing(world.clone, sha)
    (branch,) = out.result.asset_materializations_for_node("release_branch")
    assert branch.metadata["kept_ref"].value == kept
    assert branch.metadata["kept_commits"].value == [describe(world, sha) for sha in reversed(lost)]
    guard = out.evaluation("release_branch_guard")
    assert guard.metadata["release_only_commits"].value == [describe(world, sha) for sha in reversed(lost)]

    audit = run_audit(world, gitlab_server.url, instance)
    assert audit.state("diverged_commits_on_master") == "fail"
    assert audit.evidence("diverged_commits_on_master", "kept_refs") == [kept]
    assert audit.evidence("diverged_commits_on_master", "commits_not_on_master") == [
        describe(world, sha) for sha in reversed(lost)
    ]
    assert lost[0] in audit.reason("diverged_commits_on_master")
    assert audit.metadata["kept_not_on_master"] == list(reversed(lost))

    git(world.clone, "cherry-pick", *lost[:2])  # merged back one by one: the third is still missing
    world.push("master")
    partly = run_audit(world, gitlab_server.url, instance)
    assert partly.state("diverged_commits_on_master") == "fail"
    assert partly.evidence("diverged_commits_on_master", "commits_not_on_master") == [describe(world, lost[2])]

    git(world.clone, "cherry-pick", lost[2])
    world.push("master")
    merged = run_audit(world, gitlab_server.url, instance)
    assert merged.state("diverged_commits_on_master") == "pass"
    assert "1 kept ref(s) hold nothing master lacks" in merged.reason("diverged_commits_on_master")
    assert kept_refs(world.origin, lost[-1]) == [kept]  # the kept ref stays: only a human deletes it


def test_cli_override_keeps_the_commits_it_moves_off(world, gitlab_server, instance, tmp_path):
    lost = force_pushed_master(world, gitlab_server, instance)
    env = {
        "PC_RELEASE_GITLAB_TOKEN": TOKEN,
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "PC_RELEASE_REPO_PATH": str(world.clone),
        "PC_RELEASE_GITLAB_URL": gitlab_server.url,
        "PC_RELEASE_GITLAB_PROJECT": PROJECT,
        "PC_RELEASE_DIST_DIR": str(tmp_path / "dist"),
    }
    (tmp_path / "dagster").mkdir()

    run = pc_release("promote", "--allow-divergence", cwd=world.clone, env=env)

    assert run.returncode == 0, run.stdout + run.stderr
    assert world.release_sha() == git(world.clone, "rev-parse", "origin/master")
    for sha in lost:
        assert kept_refs(world.origin, sha), sha
    assert TOKEN not in run.stdout + run.stderr


def dev_test_of_unmerged_sha(world, server, instance) -> str:
    experiment = world.commit("gpu node experiment")
    git(world.clone, "push", "-q", "origin", f"{experiment}:refs/heads/feature")
    deployed = promote(world, server.url, instance, job="dev_test_deploy", config={"source_ref": "HEAD"})
    assert deployed.success, deployed.summary.text
    git(world.clone, "reset", "-q", "--hard", "origin/master")  # the experiment is not merged (yet)
    return experiment


def test_normal_promotion_follows_a_dev_test_deploy_and_the_audit_flags_its_sha(world, gitlab_server, instance):
    experiment = dev_test_of_unmerged_sha(world, gitlab_server, instance)
    head = advance_master(world, "master moves on")
    green(gitlab_server, head)

    out = promote(world, gitlab_server.url, instance)

    assert out.success, out.summary.text
    assert world.release_sha() == head
    guard = out.evaluation("release_branch_guard")
    assert f"recorded dev-test deploy of {experiment}" in guard.description
    assert "PLATFORM_CONTROL_ALLOW_RELEASE_BRANCH_DIVERGENCE" not in guard.description
    assert guard.metadata["dev_test_sha"].value == experiment
    (kept,) = kept_refs(world.origin, experiment)
    assert kept.startswith(KEPT) and kept.endswith(f"-{experiment}")
    (branch,) = out.result.asset_materializations_for_node("release_branch")
    assert branch.metadata["kept_commits"].value == [describe(world, experiment)]
    assert len([p for p in release_pipelines(gitlab_server) if p["sha"] == head]) == 1

    audit = run_audit(world, gitlab_server.url, instance)
    assert audit.state("diverged_commits_on_master") == "fail"
    assert audit.evidence("diverged_commits_on_master", "commits_not_on_master") == [describe(world, experiment)]
    assert audit.state("release_branch_guard") == "pass"

    # An override later changes nothing: the dev-test SHA is flagged until master has it.
    again = advance_master(world, "incident on master")
    green(gitlab_server, again)
    assert promote(world, gitlab_server.url, instance, config={"allow_divergence": True}).success
    assert run_audit(world, gitlab_server.url, instance).state("diverged_commits_on_master") == "fail"

    git(world.clone, "merge", "-q", "--no-edit", experiment)
    world.push("master")
    assert run_audit(world, gitlab_server.url, instance).state("diverged_commits_on_master") == "pass"


def test_commit_pushed_on_top_of_a_dev_test_deploy_still_refuses_the_normal_promotion(world, gitlab_server, instance):
    dev_test_of_unmerged_sha(world, gitlab_server, instance)
    hotfix = release_edit(world, "hotfix on the dev-test deploy", {"hotfix.txt": "x\n"})
    head = advance_master(world, "master moves on")
    green(gitlab_server, head)

    out = promote(world, gitlab_server.url, instance)

    assert not out.success
    assert out.check("release_branch_guard") is False
    assert world.release_sha() == hotfix
    assert kept_refs(world.origin, hotfix) == []
    assert [p for p in release_pipelines(gitlab_server) if p["sha"] == head] == []


def test_plan_agrees_the_normal_flow_may_follow_a_dev_test_and_names_the_kept_ref(world, gitlab_server, instance):
    experiment = dev_test_of_unmerged_sha(world, gitlab_server, instance)
    head = advance_master(world, "master moves on")
    green(gitlab_server, head)

    planned, _ = plan(world, gitlab_server.url, instance)

    assert planned.would_proceed, planned.refusals
    assert gates(planned)["release_branch_guard"] == "would warn"
    assert planned.actions[0].startswith(f"keep {experiment} under {KEPT}<utc time>-{experiment}")
    assert kept_refs(world.origin, experiment) == []  # a plan keeps nothing and pushes nothing
