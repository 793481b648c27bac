"""Table-driven tests of the drift audit rules in pc_release.policy.audit."""

from datetime import UTC, datetime, timedelta

import pytest

from pc_release.models import CommitInfo, KeptCommits
from pc_release.policy import audit

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MASTER = CommitInfo(sha="m" * 40, subject="head", author="Ann", committed_at=NOW - timedelta(hours=1))
RELEASE = CommitInfo(sha="r" * 40, subject="released", author="Bob", committed_at=NOW - timedelta(days=3))
HOTFIX = CommitInfo(sha="h" * 40, subject="hotfix on release", author="Cy", committed_at=NOW - timedelta(hours=5))
BOUND = timedelta(hours=24)


def state(**changes) -> audit.DriftState:
    base = {
        "master_branch": "master",
        "release_branch": "release/platform-control",
        "master": MASTER,
        "release": RELEASE,
        "audited_at": NOW,
    }
    return audit.DriftState(**(base | changes))


def promotion(sha: str, kind: str = "release", hours_ago: float = 2.0) -> audit.LastPromotion:
    return audit.LastPromotion(sha=sha, kind=kind, recorded_at=NOW - timedelta(hours=hours_ago), source="test")


def outcome(verdict) -> str:
    if not verdict.ok:
        return "fail"
    return "warn" if verdict.warning else "pass"


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({"ahead": 0}, "pass"),
        ({"release": None}, "warn"),
        ({"ahead": 1, "release_only_commits": [HOTFIX]}, "fail"),
        (
            {"ahead": 1, "release_only_commits": [HOTFIX], "last_promotion": promotion(RELEASE.sha, "dev-test")},
            "warn",
        ),
        (
            {"ahead": 1, "release_only_commits": [HOTFIX], "last_promotion": promotion("x" * 40, "dev-test")},
            "fail",
        ),
    ],
)
def test_release_branch_guard(facts, expected):
    verdict = audit.release_branch_guard(state(**facts))
    assert outcome(verdict) == expected
    if facts.get("release_only_commits"):
        assert verdict.evidence["release_only_commits"] == [f"{'h' * 40} Cy: hotfix on release"]


@pytest.mark.parametrize(
    ("facts", "expected", "in_reason"),
    [
        ({"behind": 0}, "pass", "includes master head"),
        ({"behind": 7}, "warn", "7 commit(s) behind master"),
        ({"behind": 7}, "warn", "committed 3d 0h ago"),
        ({"release": None}, "warn", "does not exist"),
    ],
)
def test_release_behind_master(facts, expected, in_reason):
    verdict = audit.release_behind_master(state(**facts))
    assert outcome(verdict) == expected
    assert in_reason in verdict.reason
    if facts.get("behind"):
        assert verdict.evidence["promoted_sha_age_minutes"] == 72 * 60


@pytest.mark.parametrize(
    ("last", "on_master", "expected", "in_reason"),
    [
        (None, None, "pass", "no dev-test"),
        (promotion(RELEASE.sha), None, "pass", "no dev-test"),
        (promotion(RELEASE.sha, "dev-test", hours_ago=2.51), False, "warn", "still not merged to master"),
        (promotion(RELEASE.sha, "dev-test", hours_ago=30), False, "fail", "beyond the 1d 0h bound"),
        (promotion(RELEASE.sha, "dev-test", hours_ago=30), True, "fail", "merged to master but not yet promoted"),
        (promotion(RELEASE.sha, "dev-test", hours_ago=2), True, "warn", "merged to master but not yet promoted"),
    ],
)
def test_dev_test_follow_up_is_bounded(last, on_master, expected, in_reason):
    verdict = audit.dev_test_follow_up(state(last_promotion=last, dev_test_sha_on_master=on_master), BOUND)
    assert outcome(verdict) == expected
    assert in_reason in verdict.reason
    if last is not None and last.kind == "dev-test":
        assert verdict.evidence["age_minutes"] == int((NOW - last.recorded_at).total_seconds() // 60)
        steps = verdict.evidence["follow_up"]
        assert steps[:3] == ["git switch master", f"git merge --ff-only {RELEASE.sha}", "git push origin master"]
        assert f"pc-release promote {RELEASE.sha} --mode deploy --profile standard" in steps[4]
        assert "PLATFORM_CONTROL_RELEASE_PROFILE=standard" in verdict.reason


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({"last_promotion": promotion(RELEASE.sha)}, "pass"),
        ({"last_promotion": promotion("x" * 40)}, "fail"),
        ({"last_promotion": None}, "warn"),
        ({"last_promotion": None, "release": None}, "pass"),
        ({"last_promotion": promotion("x" * 40), "release": None}, "fail"),
    ],
)
def test_release_matches_record(facts, expected):
    assert outcome(audit.release_matches_record(state(**facts))) == expected


LOST = audit.WatchedPathDrift(path="runtimes/tg/listener.py", state="missing")
KEYS = audit.WatchedPathDrift(path="runtimes/tg/runtime.yaml", state="different", missing_keys=["ws.internal"])


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({"ahead": 0}, "pass"),
        ({"ahead": 2, "watched_drift": []}, "pass"),
        ({"ahead": 2, "watched_drift": [LOST, KEYS], "watched_drift_count": 2}, "fail"),
        (
            {
                "ahead": 2,
                "watched_drift": [LOST],
                "watched_drift_count": 1,
                "last_promotion": promotion(RELEASE.sha, "dev-test"),
            },
            "warn",
        ),
        ({"release": None}, "warn"),
    ],
)
def test_watched_paths_match_master(facts, expected):
    verdict = audit.watched_paths_match_master(state(**facts))
    assert outcome(verdict) == expected
    if facts.get("watched_drift"):
        assert verdict.evidence["missing_on_release"] == ["runtimes/tg/listener.py"]
        assert "runtimes/tg/listener.py" in verdict.reason


def test_watched_drift_names_lost_config_keys():
    verdict = audit.watched_paths_match_master(state(ahead=1, watched_drift=[KEYS], watched_drift_count=1))
    assert verdict.evidence["config_keys_missing_on_release"] == ["runtimes/tg/runtime.yaml: ws.internal"]
    assert "ws.internal" in verdict.reason


@pytest.mark.parametrize(
    ("path", "master", "release", "missing"),
    [
        (
            "a/runtime.yaml",
            "listen: 1\nws:\n  internal: true\n  port: 9\n",
            "listen: 1\nws:\n  port: 9\n",
            ["ws.internal"],
        ),
        ("a/runtime.yaml", "a: 1\n", "a: 2\n", []),
        ("a/config.json", '{"a": {"b": 1}, "c": 2}', '{"a": {}}', ["a.b", "c"]),
        ("a/app.env", "export A=1\nB=2\n# C=3\n", "A=1\n", ["B"]),
        ("config/terminal.toml", "[terminal]\nws = 'unix'\nidle = 30\n", "[terminal]\nidle = 30\n", ["terminal.ws"]),
        ("config/terminal.toml", "[terminal\n", "", []),
        ("a/runtime.yaml", "a: [unclosed\n", "a: 1\n", []),
        ("a/runtime.yaml", "- a\n- b\n", "", []),
    ],
)
def test_missing_config_keys(path, master, release, missing):
    assert audit.missing_config_keys(master, release, path) == missing


@pytest.mark.parametrize(
    ("delta", "text"),
    [(timedelta(minutes=42), "42m"), (timedelta(hours=5, minutes=12), "5h 12m"), (timedelta(days=3, hours=4), "3d 4h")],
)
def test_format_age(delta, text):
    assert audit.format_age(delta) == text


KEPT_REF = f"refs/pc-release/diverged/20260302T110000Z-{HOTFIX.sha}"


@pytest.mark.parametrize(
    ("facts", "expected", "in_reason"),
    [
        ({}, "pass", "no commit the release branch was moved off is missing from master"),
        ({"kept_refs": 2}, "pass", "the 2 kept ref(s) hold nothing master lacks"),
        (
            {"kept_refs": 2, "kept_not_on_master": [KeptCommits(ref=KEPT_REF, sha=HOTFIX.sha, commits=[HOTFIX])]},
            "fail",
            f"{KEPT_REF}: {HOTFIX.sha}",
        ),
    ],
)
def test_diverged_commits_on_master(facts, expected, in_reason):
    verdict = audit.diverged_commits_on_master(state(**facts))
    assert outcome(verdict) == expected
    assert in_reason in verdict.reason
    if expected == "fail":
        assert verdict.evidence["commits_not_on_master"] == [f"{HOTFIX.sha} Cy: hotfix on release"]
        assert verdict.evidence["kept_refs"] == [KEPT_REF]


@pytest.mark.parametrize(
    ("last", "release_sha", "expected"),
    [
        (None, RELEASE.sha, None),
        (promotion(RELEASE.sha, "release"), RELEASE.sha, None),
        (promotion("x" * 40, "dev-test"), RELEASE.sha, None),
        (promotion(RELEASE.sha, "dev-test"), None, None),
        (promotion(RELEASE.sha, "dev-test"), RELEASE.sha, RELEASE.sha),
    ],
)
def test_dev_test_tip(last, release_sha, expected):
    assert audit.dev_test_tip(last, release_sha) == expected


def test_audit_verdicts_follow_the_rule_order():
    verdicts = audit.audit_verdicts(state(), BOUND)
    assert tuple(v.rule for v in verdicts) == audit.AUDIT_RULES


@pytest.mark.parametrize(("kind", "expected"), [("release", "pass"), ("dev-test", "warn")])
def test_a_dev_test_deploy_states_its_follow_up_at_once(kind, expected):
    verdict = audit.dev_test_deployed(
        kind, RELEASE.sha, release_branch="release/platform-control", master_branch="main", remote="upstream"
    )
    assert outcome(verdict) == expected
    if kind == "dev-test":
        assert verdict.evidence["follow_up"][:3] == [
            "git switch main",
            f"git merge --ff-only {RELEASE.sha}",
            "git push upstream main",
        ]
        assert "not a release" in verdict.reason
