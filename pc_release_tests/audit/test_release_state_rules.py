"""The release state headline: table-driven over where the release branch is and what was recorded last."""

from datetime import UTC, datetime, timedelta

import pytest

from pc_release.policy.release_state import LastOutcome, ReleaseState, headline, outcome_of

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
HEAD, OLD = "a" * 40, "b" * 40
DEV = "dev-test"


def state(release: str | None, behind: int | None = None, release_only: int | None = None, **changes) -> ReleaseState:
    fields = {
        "master_branch": "master",
        "release_branch": "release/platform-control",
        "master_head": HEAD,
        "release_sha": release,
        "behind": behind,
        "release_only": release_only,
        "master_ci": "success",
        "read_at": NOW,
    }
    return ReleaseState(**(fields | changes))


def last(outcome: str, age: timedelta, kind: str = "release", sha: str = OLD) -> LastOutcome:
    return LastOutcome(sha=sha, kind=kind, outcome=outcome, recorded_at=NOW - age)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            state(HEAD, 0, 0, last=last("released", timedelta(hours=2, minutes=5), sha=HEAD)),
            "release/platform-control is at master head aaaaaaaaaaaa (CI success); "
            "last promotion: released (release aaaaaaaaaaaa, 2h 5m ago)",
        ),
        (
            state(OLD, 3, 0, master_ci="running", last=last("failed", timedelta(days=1, hours=1))),
            "release/platform-control bbbbbbbbbbbb is 3 commit(s) behind master head aaaaaaaaaaaa (CI running); "
            "last promotion: failed (release bbbbbbbbbbbb, 1d 1h ago)",
        ),
        (
            state(OLD, 2, 1, master_ci="no pipeline yet", last=last("dev-test, not released", timedelta(0), DEV)),
            "release/platform-control bbbbbbbbbbbb is 2 commit(s) behind master head aaaaaaaaaaaa (CI no pipeline "
            "yet), with 1 release-only commit(s); "
            "last promotion: dev-test, not released (dev-test bbbbbbbbbbbb, 0m ago)",
        ),
        (
            state(None),
            "release/platform-control does not exist; master head aaaaaaaaaaaa (CI success); no promotion recorded",
        ),
    ],
    ids=["released-at-head", "behind-after-a-failure", "behind-with-release-only-dev-test", "no-release-branch"],
)
def test_headline(given, expected):
    assert headline(given) == expected


@pytest.mark.parametrize(
    ("asset", "status", "expected"),
    [
        ("release_record", "released", "released"),
        ("release_record", "not released", "not released"),
        ("release_record", None, "recorded, status unknown"),
        ("release_pipeline", "running", "in progress: release pipeline running"),
        ("release_branch", None, "in progress: release branch pushed, release pipeline not triggered yet"),
    ],
)
def test_outcome_of_the_newest_promotion_materialization(asset, status, expected):
    assert outcome_of(asset, status) == expected
