"""Table-driven tests of the promotion rules in pc_release.policy.promotion."""

from datetime import UTC, datetime

import pytest

from pc_release.errors import InvalidInput
from pc_release.models import BranchAccess, CommitInfo, PipelineInfo, PromotionRequest, Verdict
from pc_release.policy import promotion as rules

SHA = "a" * 40
OTHER = "b" * 40
RELEASE = PromotionRequest()
DEV_TEST = PromotionRequest(kind="dev-test", mode="deploy", allow_divergence=True, skip_local_preflight=True)
OVERRIDE = PromotionRequest(allow_divergence=True)


@pytest.mark.parametrize(
    ("ref", "rule"),
    [
        ("--upload-pack=touch /tmp/pwned", "ref-syntax"),
        ("-n", "ref-syntax"),
        ("", "ref-syntax"),
        ("   ", "ref-syntax"),
        (" origin/master", "ref-syntax"),
        ("master..release", "ref-syntax"),
        ("master@{1}", "ref-syntax"),
        ("mas\x00ter", "ref-syntax"),
        ("mas\nter", "ref-syntax"),
        ("master\x1b[31m", "ref-syntax"),
        ("feature branch", "ref-syntax"),
        ("HEAD~1", "ref-syntax"),
        ("HEAD^", "ref-syntax"),
        ("refs/heads/x.lock", "ref-syntax"),
        ("origin/", "ref-syntax"),
        ("a:b", "ref-syntax"),
        ("@", "ref-syntax"),
        ("abc1234", "exact-sha"),
        ("a" * 39, "exact-sha"),
        ("z" * 40, "exact-sha"),
        ("g" + "a" * 39, "exact-sha"),
        ("origin/master~0", "ref-syntax"),
        ("b" * 256, "ref-syntax"),
    ],
)
def test_bad_refs_are_refused_with_their_rule(ref, rule):
    with pytest.raises(InvalidInput) as err:
        rules.validate_ref(ref)
    assert err.value.rule == rule
    assert f"[{rule}]" in str(err.value)


@pytest.mark.parametrize(
    "ref",
    [
        "origin/master",
        "master",
        "HEAD",
        SHA,
        "release/platform-control",
        "v1.2.3",
        "refs/remotes/origin/master",
        "b" * 255,
    ],
)
def test_good_refs_pass(ref):
    assert rules.validate_ref(ref) == ref


@pytest.mark.parametrize(
    ("ref", "says", "never_says"),
    [
        ("origin/master~0", "revision syntax for an ancestor", "forbids"),
        ("HEAD^", "revision syntax for a parent", "forbids"),
        ("a..b", "revision syntax for a range", "forbids"),
        ("master@{1}", "revision syntax for a reflog entry", "forbids"),
        ("HEAD:README.md", "revision syntax for a path", "forbids"),
        ("feature branch", "which git forbids in ref names", "revision"),
        ("c" * 10240, "10240 characters", "c" * 61),
    ],
)
def test_refusals_say_what_is_wrong_and_quote_the_ref_briefly(ref, says, never_says):
    with pytest.raises(InvalidInput) as err:
        rules.validate_ref(ref)
    assert says in str(err.value) and never_says not in str(err.value)


@pytest.mark.parametrize(
    ("ref", "candidates"),
    [
        (
            "origin/master",
            (
                "refs/origin/master",
                "refs/tags/origin/master",
                "refs/heads/origin/master",
                "refs/remotes/origin/master",
                "refs/remotes/origin/master/HEAD",
            ),
        ),
        (
            "HEAD",
            ("HEAD", "refs/HEAD", "refs/tags/HEAD", "refs/heads/HEAD", "refs/remotes/HEAD", "refs/remotes/HEAD/HEAD"),
        ),
        ("refs/remotes/origin/master", ("refs/remotes/origin/master",)),
        ("refs/tags/v1", ("refs/tags/v1",)),
    ],
)
def test_ref_candidates_follow_gits_lookup_order(ref, candidates):
    assert rules.ref_candidates(ref) == candidates


@pytest.mark.parametrize(
    ("found", "rule", "named"),
    [
        ({}, "unknown-ref", []),
        (
            {"refs/tags/origin/master": SHA, "refs/remotes/origin/master": OTHER},
            "ambiguous-ref",
            ["refs/tags/origin/master (aaaaaaaaaaaa)", "refs/remotes/origin/master (bbbbbbbbbbbb)"],
        ),
        # The same commit under two names is still two refs: which one was meant is not the operator's to guess.
        (
            {"refs/tags/master": SHA, "refs/heads/master": SHA},
            "ambiguous-ref",
            ["refs/tags/master", "refs/heads/master"],
        ),
    ],
)
def test_pick_ref_refuses_nothing_and_more_than_one(found, rule, named):
    with pytest.raises(InvalidInput) as err:
        rules.pick_ref("origin/master", found, "/srv/clone")
    assert err.value.rule == rule
    assert all(name in str(err.value) for name in named)


def test_pick_ref_takes_the_one_ref_named():
    assert rules.pick_ref("origin/master", {"refs/remotes/origin/master": SHA}, "/srv/clone") == (
        "refs/remotes/origin/master",
        SHA,
    )


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({"mode": "fast"}, "release-mode"),
        ({"profile": "web-slow"}, "release-profile"),
        ({"skip_local_preflight": True, "require_local_preflight": True}, "preflight-flags"),
        ({"dev_test": True, "mode": "full"}, "dev-test-mode"),
        ({"transient_retry_reason": "  "}, "failed-sha"),
        ({"source_ref": "--exec=sh"}, "ref-syntax"),
    ],
)
def test_build_request_refuses(kwargs, rule):
    base = dict(
        source_ref="origin/master",
        mode="full",
        profile="standard",
        dev_test=False,
        skip_local_preflight=False,
        require_local_preflight=False,
        allow_divergence=False,
    )
    with pytest.raises(InvalidInput) as err:
        rules.build_request(**(base | kwargs))
    assert err.value.rule == rule


def test_dev_test_request_skips_preflight_and_allows_divergence_by_default():
    request = rules.build_request(
        source_ref="HEAD",
        mode="deploy",
        profile="standard",
        dev_test=True,
        skip_local_preflight=False,
        require_local_preflight=False,
        allow_divergence=False,
    )
    assert (request.kind, request.skip_local_preflight, request.allow_divergence) == ("dev-test", True, True)
    asked = rules.build_request(
        source_ref="HEAD",
        mode="deploy",
        profile="standard",
        dev_test=True,
        skip_local_preflight=False,
        require_local_preflight=True,
        allow_divergence=False,
    )
    assert asked.skip_local_preflight is False


@pytest.mark.parametrize(
    ("on_master", "request_", "ok", "warning"),
    [
        (True, RELEASE, True, False),
        (False, RELEASE, False, False),
        (False, DEV_TEST, True, True),
        (False, OVERRIDE, True, True),
        (True, DEV_TEST, True, False),
    ],
)
def test_reachable_from_master(on_master, request_, ok, warning):
    verdict = rules.reachable_from_master(SHA, on_master, request_)
    assert (verdict.ok, verdict.warning) == (ok, warning)
    assert verdict.rule == "reachable_from_master"


def _pipeline(status, sha=SHA, ref="master"):
    return PipelineInfo(id=7, sha=sha, ref=ref, status=status, web_url="http://gl/p/7")


@pytest.mark.parametrize(
    ("pipeline", "request_", "ok", "warning"),
    [
        (_pipeline("success"), RELEASE, True, False),
        (_pipeline("failed"), RELEASE, False, False),
        (_pipeline("running"), RELEASE, False, False),
        (_pipeline("canceling"), RELEASE, False, False),
        (_pipeline("waiting_for_callback"), RELEASE, False, False),
        (_pipeline("success", sha=OTHER), RELEASE, False, False),
        (_pipeline("success", ref="feature"), RELEASE, False, False),
        (None, RELEASE, False, False),
        (None, DEV_TEST, True, True),
        (_pipeline("failed"), DEV_TEST, True, True),
    ],
)
def test_master_ci_green_on_exact_sha(pipeline, request_, ok, warning):
    verdict = rules.master_ci_green_on_exact_sha(SHA, pipeline, "master", request_)
    assert (verdict.ok, verdict.warning) == (ok, warning)


def _commit(subject):
    return CommitInfo(sha=OTHER, subject=subject, author="Ops", committed_at=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("commits", "request_", "dev_test_tip", "ok", "warning", "in_reason"),
    [
        ([], RELEASE, None, True, False, "no release-only commits"),
        ([_commit("hotfix on release")], RELEASE, None, False, False, "merge them into master first"),
        ([_commit("hotfix on release")], OVERRIDE, None, True, True, "keeps them under refs/pc-release/diverged/"),
        ([_commit("hotfix on release")], DEV_TEST, None, True, True, "override in force"),
        # The normal flow after a recorded dev-test deploy moves off it; the commits are kept and audited.
        ([_commit("experiment")], RELEASE, OTHER, True, True, f"recorded dev-test deploy of {OTHER}"),
    ],
)
def test_release_branch_divergence(commits, request_, dev_test_tip, ok, warning, in_reason):
    verdict = rules.release_branch_divergence(commits, request_, "release/platform-control", dev_test_tip)
    assert (verdict.ok, verdict.warning) == (ok, warning)
    assert in_reason in verdict.reason
    if commits:
        assert verdict.evidence["release_only_commits"] == [f"{OTHER} Ops: {commits[0].subject}"]


def test_kept_ref_name_carries_utc_time_and_full_sha():
    at = datetime(2026, 3, 2, 12, 0, 5, tzinfo=UTC)
    assert rules.kept_ref_name(SHA, at) == f"refs/pc-release/diverged/20260302T120005Z-{SHA}"


@pytest.mark.parametrize(("dirty", "ok"), [([], True), (["app.py"], False), (["?? new.txt"], False)])
def test_dev_test_requires_clean_tree(dirty, ok):
    assert rules.dev_test_clean_tree(dirty).ok is ok


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (
            RELEASE,
            {"PLATFORM_CONTROL_RELEASE_MODE": "full", "PLATFORM_CONTROL_RELEASE_PROFILE": "standard"},
        ),
        (
            DEV_TEST,
            {
                "PLATFORM_CONTROL_RELEASE_MODE": "deploy",
                "PLATFORM_CONTROL_RELEASE_PROFILE": "standard",
                "PLATFORM_CONTROL_ALLOW_RELEASE_BRANCH_DIVERGENCE": "true",
                "PLATFORM_CONTROL_DEV_TEST_DEPLOY": "true",
            },
        ),
    ],
)
def test_pipeline_variables(request_, expected):
    assert rules.pipeline_variables(request_, "rid") == expected | {"PC_RELEASE_REQUEST_ID": "rid"}


def _branch(protected: bool, can_push: bool = False, developers_can_merge: bool = False) -> BranchAccess:
    return BranchAccess(
        name="release/platform-control",
        protected=protected,
        can_push=can_push,
        developers_can_merge=developers_can_merge,
    )


@pytest.mark.parametrize(
    ("level", "branch", "ok", "warning", "says"),
    [
        (40, None, True, False, "does not exist yet"),
        (30, None, True, False, "does not exist yet"),
        (20, None, False, False, "needs Developer (30)"),
        (10, _branch(False), False, False, "needs Developer (30)"),
        (None, None, True, True, "not checked"),
        (30, _branch(False), True, False, "is not protected"),
        (30, _branch(True, can_push=True), True, False, "may push to it"),
        (30, _branch(True, developers_can_merge=True), True, False, "may merge into it"),
        (30, _branch(True), False, False, "may neither push nor merge"),
        (40, _branch(True), True, True, "may still be refused after the push"),
        (20, _branch(True, can_push=True), False, False, "needs Developer (30)"),
    ],
)
def test_gitlab_can_trigger_release_pipeline(level, branch, ok, warning, says):
    verdict = rules.gitlab_can_trigger_release_pipeline(level, branch)
    assert (verdict.ok, verdict.warning) == (ok, warning)
    assert says in verdict.reason


HTTP_REPO = "https://gitlab.example.com/platform/platform-control.git"
SSH_REPO = "git@gitlab.example.com:platform/platform-control.git"


@pytest.mark.parametrize(
    ("url", "location"),
    [
        (HTTP_REPO, ("https", "gitlab.example.com", 443, "platform/platform-control")),
        (
            "https://bot:glpat-x@GitLab.Example.com/Platform/platform-control/",
            ("https", "gitlab.example.com", 443, "platform/platform-control"),
        ),
        (
            "http://127.0.0.1:8929/platform/platform-control.git",
            ("http", "127.0.0.1", 8929, "platform/platform-control"),
        ),
        (SSH_REPO, ("ssh", "gitlab.example.com", 22, "platform/platform-control")),
        (
            "ssh://git@gitlab.example.com/platform/platform-control.git",
            ("ssh", "gitlab.example.com", 22, "platform/platform-control"),
        ),
        (
            "ssh://git@gitlab.example.com:2222/platform/platform-control",
            ("ssh", "gitlab.example.com", 2222, "platform/platform-control"),
        ),
        ("/srv/git/platform-control.git", None),
        ("file:///srv/git/platform-control.git", None),
        ("../platform-control.git", None),
        ("https://gitlab.example.com:notaport/x.git", None),
    ],
)
def test_repository_location(url, location):
    assert rules.repository_location(url) == location


@pytest.mark.parametrize(
    ("urls", "http_url", "ssh_url", "ok", "says"),
    [
        ([HTTP_REPO], HTTP_REPO, SSH_REPO, True, "is the GitLab project"),
        ([SSH_REPO], HTTP_REPO, SSH_REPO, True, "is the GitLab project"),
        ([HTTP_REPO, SSH_REPO], HTTP_REPO, SSH_REPO, True, "is the GitLab project"),
        (["https://bot:glpat-secret@gitlab.example.com/platform/platform-control"], HTTP_REPO, SSH_REPO, True, "is"),
        (
            ["git@gitlab.example.com:someone/platform-control.git"],
            HTTP_REPO,
            SSH_REPO,
            False,
            "someone/platform-control",
        ),
        ([HTTP_REPO, "/srv/mirror.git"], HTTP_REPO, SSH_REPO, False, "/srv/mirror.git"),
        (
            ["https://gitlab.example.com:8443/platform/platform-control.git"],
            HTTP_REPO,
            SSH_REPO,
            False,
            "not the GitLab",
        ),
        ([], HTTP_REPO, SSH_REPO, False, "points at nothing"),
        ([HTTP_REPO], None, None, False, "did not name the project's repository URLs"),
    ],
)
def test_remote_is_gitlab_project(urls, http_url, ssh_url, ok, says):
    verdict = rules.remote_is_gitlab_project("origin", urls, http_url, ssh_url)
    assert verdict.ok is ok
    assert says in verdict.reason
    assert "glpat-secret" not in verdict.reason + str(verdict.evidence)


@pytest.mark.parametrize(
    ("gitlab_sha", "ok"),
    [(SHA, True), (OTHER, False), (None, False)],
)
def test_gitlab_branch_at_pushed_sha(gitlab_sha, ok):
    verdict = rules.gitlab_branch_at_pushed_sha("release/platform-control", SHA, gitlab_sha)
    assert verdict.ok is ok
    assert ("no release pipeline is created" in verdict.reason) is not ok


def _pipeline(pipeline_id: int, sha: str, source: str = "api") -> PipelineInfo:
    return PipelineInfo(
        id=pipeline_id, sha=sha, ref="release/platform-control", status="running", web_url="", source=source
    )


@pytest.mark.parametrize(
    ("newest_first", "ids", "before_push", "reused"),
    [
        ([], {}, 0, None),
        ([_pipeline(3, SHA)], {3: "rid"}, 0, 3),
        ([_pipeline(3, SHA)], {3: "rid"}, 2, 3),
        ([_pipeline(3, SHA)], {3: "rid"}, 3, None),
        ([_pipeline(4, SHA, "push"), _pipeline(3, SHA)], {3: "rid"}, 0, 3),
        ([_pipeline(4, SHA, "push"), _pipeline(3, SHA)], {3: "rid"}, 3, None),
        ([_pipeline(4, OTHER, "web"), _pipeline(3, SHA)], {3: "rid"}, 0, None),
        ([_pipeline(4, OTHER, "push"), _pipeline(3, SHA)], {3: "rid"}, 0, None),
        ([_pipeline(4, SHA, "web"), _pipeline(3, SHA)], {3: "rid"}, 0, None),
        ([_pipeline(3, SHA)], {3: "other-request"}, 0, None),
        ([_pipeline(3, OTHER)], {3: "rid"}, 0, None),
    ],
)
def test_reusable_request_pipeline(newest_first, ids, before_push, reused):
    found = rules.reusable_request_pipeline(newest_first, SHA, "rid", lambda p: ids.get(p.id), before_push)
    assert (found.id if found else None) == reused


@pytest.mark.parametrize(
    ("candidate", "remote", "source", "pushed", "status"),
    [
        (SHA, SHA, SHA, SHA, "passed"),
        (OTHER, SHA, SHA, SHA, "failed"),  # the candidate env was written from another SHA
        (SHA, OTHER, SHA, SHA, "failed"),  # someone moved the remote branch after the push
        (SHA, SHA, SHA, OTHER, "failed"),  # what was pushed is not the source
        (None, SHA, SHA, SHA, "failed"),  # no candidate env
        (SHA, None, SHA, SHA, "failed"),  # the remote branch is gone
    ],
)
def test_candidate_matches_release_branch(candidate, remote, source, pushed, status):
    verdict = rules.candidate_matches_release_branch(candidate, remote, source, pushed, "release/platform-control")
    assert verdict.rule == rules.CANDIDATE_MATCHES
    assert verdict.status == status
    if status == "failed":
        assert "do not trigger a deploy from this candidate" in verdict.reason


def _refusal(rule: str) -> Verdict:
    return Verdict(rule=rule, ok=False, reason=f"{rule} says no")


@pytest.mark.parametrize(
    ("refusals", "status", "refused_by"),
    [
        ([], "passed", None),
        ([_refusal("web_fast_eligible")], "warning", ["web_fast_eligible"]),
        (
            [_refusal("reachable_from_master"), _refusal("failed_sha_retry")],
            "warning",
            ["reachable_from_master", "failed_sha_retry"],
        ),
    ],
)
def test_plan_would_proceed_is_a_warning_naming_every_refusing_gate(refusals, status, refused_by):
    verdict = rules.plan_would_proceed(refusals)
    assert verdict.status == status
    assert verdict.evidence.get("refused_by") == refused_by
    for rule in refused_by or []:
        assert f"{rule} ({rule} says no)" in verdict.reason
