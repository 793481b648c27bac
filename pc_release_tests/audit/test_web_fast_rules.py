"""Table-driven tests of the web-fast eligibility rule in pc_release.policy.web_fast."""

import pytest

from pc_release.policy.web_fast import web_fast_eligible

RELEASED = "a" * 40
CANDIDATE = "b" * 40
WEB = ["frontend/", "runtimes/web/", "docs/*.md"]


@pytest.mark.parametrize(
    ("changed", "ok", "offending"),
    [
        (["frontend/src/app.mjs", "frontend/index.html"], True, []),
        (["runtimes/web/Dockerfile", "frontend/e2e/a.spec.js"], True, []),
        (["docs/notes/web.md"], True, []),
        ([], True, []),
        (["frontend/src/app.mjs", "runtimes/api/app/wsgi.py"], False, ["runtimes/api/app/wsgi.py"]),
        (["api/openapi.yaml"], False, ["api/openapi.yaml"]),
        (["db_schema_v1.sql", "scripts/seed.sql"], False, ["db_schema_v1.sql", "scripts/seed.sql"]),
        (["runtimes/worker/worker.py"], False, ["runtimes/worker/worker.py"]),
        (["deploy/overlays/platform-control/web.yaml"], False, ["deploy/overlays/platform-control/web.yaml"]),
        (["frontendx/app.js"], False, ["frontendx/app.js"]),
        (["runtimes/web"], False, ["runtimes/web"]),
    ],
)
def test_web_fast_needs_every_changed_path_under_web_only_paths(changed, ok, offending):
    verdict = web_fast_eligible(
        profile="web-fast",
        released_sha=RELEASED,
        candidate_sha=CANDIDATE,
        changed_paths=changed,
        web_only_paths=WEB,
    )
    assert verdict.rule == "web_fast_eligible"
    assert verdict.ok is ok
    assert verdict.evidence["offending_paths"] == offending
    for path in offending:
        assert path in verdict.reason
    if not ok:
        assert "standard profile" in verdict.reason


def test_standard_profile_is_never_restricted():
    verdict = web_fast_eligible(
        profile="standard",
        released_sha=RELEASED,
        candidate_sha=CANDIDATE,
        changed_paths=["db_schema_v1.sql"],
        web_only_paths=WEB,
    )
    assert verdict.ok and not verdict.warning


def test_web_fast_without_a_release_to_diff_against_is_refused():
    verdict = web_fast_eligible(
        profile="web-fast", released_sha=None, candidate_sha=CANDIDATE, changed_paths=[], web_only_paths=WEB
    )
    assert not verdict.ok
    assert "does not exist" in verdict.reason


def test_long_offending_lists_are_capped_but_counted():
    changed = [f"runtimes/api/f{i}.py" for i in range(80)]
    verdict = web_fast_eligible(
        profile="web-fast", released_sha=RELEASED, candidate_sha=CANDIDATE, changed_paths=changed, web_only_paths=WEB
    )
    assert not verdict.ok
    assert verdict.evidence["offending_count"] == 80
    assert len(verdict.evidence["offending_paths"]) == 50
    assert "and 75 more" in verdict.reason
