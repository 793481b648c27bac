"""Hostile and bad input, table-driven, through the job and through the CLI: each case is refused with one error
naming its rule, nothing is pushed or triggered, and the token appears nowhere afterwards."""

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest

from pc_release import cli
from pc_release.definitions import build_definitions
from pc_release.reporting import summarize_run
from pc_release.resources.files import CANDIDATE_FILE
from pc_release.settings import Settings
from pc_release_tests.conftest import TOKEN
from pc_release_tests.gitworld import RELEASE_BRANCH, GitWorld, git
from pc_release_tests.production.gitlab_proxy import GitLabProxy
from pc_release_tests.production.leaks import find_leaks
from pc_release_tests.production.observe import green_master, origin_refs
from pc_release_tests.promotion_harness import PROJECT

WRONG_TOKEN = "glpat-wrong-token-9876543210"
INSUFFICIENT_SCOPE = {
    "error": "insufficient_scope",
    "error_description": "The request requires higher privileges than provided by the access token.",
    "scope": "api",
}


@dataclass(frozen=True)
class Case:
    id: str
    rule: str
    ref: str | None = None  # None: the job's default ("origin/master", or HEAD for a dev-test deploy)
    options: dict = field(default_factory=dict)
    dev_test: bool = False
    setup: Callable[[GitWorld, object], str | None] | None = None  # may return the ref to promote
    token: str | None = TOKEN  # None: PC_RELEASE_GITLAB_TOKEN unset (the CLI) or empty (the job)
    gitlab: str = "sandbox"  # or "unknown-project", "forbidden" (a token without the api scope)
    not_a_choice: bool = False  # the job's config offers choices: Dagster rejects the value before any run starts


def unmerged_sha(world, server) -> str:
    sha = world.commit("unmerged feature")
    git(world.clone, "push", "-q", "origin", f"{sha}:refs/heads/feature")
    git(world.clone, "reset", "-q", "--hard", "origin/master")
    return sha


def modify_tracked_file(world, server) -> None:
    (world.clone / "README.md").write_text("edited in place, not committed\n")


def add_untracked_file(world, server) -> None:
    (world.clone / "notes.txt").write_text("scratch\n")


def release_only_commit(world, server) -> None:
    git(world.other, "fetch", "-q", "origin")
    git(world.other, "checkout", "-q", "-B", "hotfix", f"origin/{RELEASE_BRANCH}")
    hotfix = world.commit("release-only hotfix", where=world.other)
    git(world.other, "push", "-q", "origin", f"{hotfix}:refs/heads/{RELEASE_BRANCH}")


def master_head(world) -> str:
    return git(world.clone, "rev-parse", "origin/master")


def master_ci_failed(world, server) -> None:
    pipeline = server.create_pipeline("master", sha=master_head(world))
    server.set_all_jobs_status(pipeline["id"], "failed")


def ungreen_master_head(world, server) -> None:
    world.commit("no pipeline ran on this one")
    world.push("master")


def commit_on_master(files: dict[str, str]) -> Callable:
    def setup(world, server) -> None:
        sha = world.commit("change with release config", files)
        world.push("master")
        green_master(server, [sha])

    return setup


def released_sha_whose_pipeline_failed(world, server) -> str:
    sha = master_head(world)
    world.push(f"{sha}:refs/heads/{RELEASE_BRANCH}")
    pipeline = server.create_pipeline(RELEASE_BRANCH, sha=sha, source="api")
    server.set_all_jobs_status(pipeline["id"], "failed")
    return sha


def syntax(id: str, ref: str) -> Case:
    return Case(id, "ref-syntax", ref=ref)


CASES = [
    # Option injection: refs reach `git` as arguments.
    syntax("option-upload-pack", "--upload-pack=touch pwned"),
    syntax("option-exec", "--exec=sh -c 'touch pwned'"),
    syntax("option-short", "-c"),
    syntax("option-output", "--output=pwned"),
    # Ranges and paths, reflog syntax.
    syntax("range-dotdot", "origin/master..feature"),
    syntax("path-dotdot", "../../etc/passwd"),
    syntax("reflog-at-brace", "master@{1}"),
    syntax("previous-branch", "@{-1}"),
    syntax("reflog-date", "HEAD@{yesterday}"),
    # Control and invisible characters.
    syntax("newline-injection", "master\n--upload-pack=touch pwned"),
    syntax("nul-byte", "master\x00"),
    syntax("terminal-escape", "master\x1b[2J"),
    syntax("right-to-left-override", "master\u202e"),
    syntax("tab", "master\tHEAD"),
    # Other forms git refuses or would reinterpret.
    syntax("ancestor-tilde", "origin/master~1"),
    syntax("tree-path", "HEAD:README.md"),
    syntax("glob", "refs/heads/*"),
    syntax("leading-space", " origin/master"),
    syntax("empty", ""),
    syntax("lock-suffix", "master.lock"),
    # Refs and SHAs that name nothing, or not one exact commit.
    Case("unknown-branch", "unknown-ref", ref="no-such-branch"),
    Case("unknown-remote-branch", "unknown-ref", ref="origin/no-such-branch"),
    Case("unknown-full-sha", "unknown-ref", ref="0" * 40),
    Case("abbreviated-sha", "exact-sha", ref="abc1234"),
    Case("abbreviated-upper-sha", "exact-sha", ref="ABCDEF1"),
    Case("sha-39-digits", "exact-sha", ref="a" * 39),
    Case("non-hex-40", "exact-sha", ref="z" * 40),
    # Rules of the policy.
    Case("sha-not-on-master", "reachable_from_master", setup=unmerged_sha),
    Case("master-ci-failed", "master_ci_green_on_exact_sha", setup=master_ci_failed),
    Case("master-ci-never-ran", "master_ci_green_on_exact_sha", setup=ungreen_master_head),
    Case("dev-test-dirty-tree", "dev_test_clean_tree", dev_test=True, setup=modify_tracked_file),
    Case("dev-test-untracked-file", "dev_test_clean_tree", dev_test=True, setup=add_untracked_file),
    Case("divergence-without-override", "release_branch_guard", setup=release_only_commit),
    Case(
        "web-fast-with-backend-diff",
        "web_fast_eligible",
        options={"profile": "web-fast"},
        setup=commit_on_master({".pc-release.yaml": "web_only_paths: [frontend/]\n", "backend/api.py": "x = 1\n"}),
    ),
    Case("failed-sha-retry-without-reason", "failed_sha_retry", setup=released_sha_whose_pipeline_failed),
    Case("release-config-invalid-yaml", "release-config", setup=commit_on_master({".pc-release.yaml": "a: [b\n"})),
    Case("release-config-unknown-key", "release-config", setup=commit_on_master({".pc-release.yaml": "colour: 1\n"})),
    Case("unknown-mode", "release-mode", options={"mode": "yolo"}, not_a_choice=True),
    Case("unknown-profile", "release-profile", options={"profile": "web-slow"}, not_a_choice=True),
    Case(
        "skip-and-require-preflight",
        "preflight-flags",
        options={"skip_local_preflight": True, "require_local_preflight": True},
    ),
    Case("dev-test-in-full-mode", "dev-test-mode", dev_test=True, options={"mode": "full"}),
    Case("blank-transient-retry-reason", "failed-sha", options={"transient_retry_reason": "   "}),
    # GitLab refusing us.
    Case("missing-token", "gitlab-token", token=None),
    Case("wrong-token-401", "gitlab-auth", token=WRONG_TOKEN),
    Case("token-without-api-scope-403", "gitlab-permission", gitlab="forbidden"),
    Case("project-path-does-not-exist-404", "gitlab-not-found", gitlab="unknown-project"),
]


def cli_args(case: Case, ref: str | None) -> list[str]:
    args = ["dev-test-deploy" if case.dev_test else "promote"]
    for key, value in case.options.items():
        if value is True:
            args.append("--" + key.replace("_", "-"))
        elif key == "transient_retry_reason":
            args += ["--transient-retry", value]
        else:
            args += [f"--{key}", value]
    return args + (["--", ref] if ref is not None else [])


@pytest.fixture
def prepared(request, world, gitlab_server, monkeypatch):
    """The world after the case's setup: master advanced and green, the case's own state on top."""
    case: Case = request.param
    head = world.commit("next change")
    world.push("master")
    green_master(gitlab_server, [head])
    ref = case.setup(world, gitlab_server) if case.setup else None
    if case.token is None:
        monkeypatch.delenv("PC_RELEASE_GITLAB_TOKEN")
    else:
        monkeypatch.setenv("PC_RELEASE_GITLAB_TOKEN", case.token)
    gitlab_server.reset_request_log()
    return case, ref if ref is not None else case.ref


@contextmanager
def gitlab_url(case: Case, server) -> Iterator[str]:
    if case.gitlab == "forbidden":
        with GitLabProxy(
            server.url, lambda method, path, headers: (403, INSUFFICIENT_SCOPE) if "/projects" in path else None
        ) as proxy:
            yield proxy.url
    else:
        yield server.url


def assert_nothing_happened(world, server, refs_before, tmp_path) -> None:
    assert origin_refs(world) == refs_before, "something was pushed"
    assert [entry for entry in server.request_log if entry[0] != "GET"] == [], "something was triggered"
    assert not (world.clone.parent / "dist" / CANDIDATE_FILE).exists()
    assert not list(tmp_path.rglob("pwned"))
    assert not list(Path.cwd().glob("pwned"))


def failure_lines(text: str) -> list[str]:
    pattern = re.compile(r"refused: \[|: FAILED: |^\s*step \S+ failed: ")
    return [line for line in text.splitlines() if pattern.search(line)]


@pytest.fixture(scope="module")
def shared_instance():
    """One instance for every case: each case looks only at its own run."""
    with dg.instance_for_test() as instance:
        yield instance


@pytest.mark.parametrize("prepared", CASES, ids=[case.id for case in CASES], indirect=True)
def test_job_refuses(prepared, world, gitlab_server, shared_instance, tmp_path, monkeypatch):
    instance = shared_instance
    case, ref = prepared
    if case.token is None:
        monkeypatch.setenv("PC_RELEASE_GITLAB_TOKEN", "")  # unset, Dagster would refuse to start the run at all
    refs_before = origin_refs(world)
    config = dict(case.options) | ({"source_ref": ref} if ref is not None else {})
    if case.dev_test and ref is None:
        config["source_ref"] = "HEAD"
    with gitlab_url(case, gitlab_server) as url:
        settings = Settings(
            repo_path=world.clone,
            gitlab_url=url,
            gitlab_project="platform/no-such-project" if case.gitlab == "unknown-project" else PROJECT,
            dist_dir=world.clone.parent / "dist",
        )
        job = build_definitions(settings).resolve_job_def("dev_test_deploy" if case.dev_test else "promote_release")
        if case.not_a_choice:
            [key] = case.options
            with pytest.raises(dg.DagsterInvalidConfigError, match=f"root:ops:source_commit:config:{key}"):
                job.execute_in_process(run_config={"ops": {"source_commit": {"config": config}}}, instance=instance)
            assert_nothing_happened(world, gitlab_server, refs_before, tmp_path)
            return
        result = job.execute_in_process(
            run_config={"ops": {"source_commit": {"config": config}}}, instance=instance, raise_on_error=False
        )
    summary = summarize_run(instance, result.run_id)

    assert not result.success
    assert summary.failed_rules == [case.rule], summary.text
    (line,) = failure_lines(summary.text)
    assert case.rule in line
    assert_nothing_happened(world, gitlab_server, refs_before, tmp_path)
    leaks = find_leaks(
        [TOKEN, WRONG_TOKEN],
        instances=[instance],
        run_ids=[result.run_id],
        texts=[("summary", summary.text)],
        dirs=[tmp_path],
    )
    assert leaks == []


@pytest.mark.parametrize("prepared", CASES, ids=[case.id for case in CASES], indirect=True)
def test_cli_refuses(prepared, world, gitlab_server, tmp_path, monkeypatch, capsys):
    case, ref = prepared
    refs_before = origin_refs(world)
    home = tmp_path / "dagster-home"
    home.mkdir()
    with gitlab_url(case, gitlab_server) as url:
        for name, value in {
            "DAGSTER_HOME": str(home),
            "PC_RELEASE_REPO_PATH": str(world.clone),
            "PC_RELEASE_DIST_DIR": str(world.clone.parent / "dist"),
            "PC_RELEASE_GITLAB_URL": url,
            "PC_RELEASE_GITLAB_PROJECT": "platform/no-such-project" if case.gitlab == "unknown-project" else PROJECT,
        }.items():
            monkeypatch.setenv(name, value)
        exit_code = cli.main(cli_args(case, ref))
    output = capsys.readouterr()

    assert exit_code in (1, 2)
    (line,) = failure_lines(output.out + output.err)
    assert f"[{case.rule}]" in line or f"gate {case.rule}: FAILED" in line
    assert_nothing_happened(world, gitlab_server, refs_before, tmp_path)
    texts = [("cli output", output.out + output.err)]
    assert find_leaks([TOKEN, WRONG_TOKEN], texts=texts, dirs=[tmp_path]) == []
    if exit_code == 1:  # the run happened: its record and events too
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert find_leaks([TOKEN, WRONG_TOKEN], instances=[instance]) == []
