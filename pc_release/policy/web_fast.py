"""web-fast eligibility: the demo-week profile is only for changes confined to the declared web-only paths."""

from __future__ import annotations

from collections.abc import Sequence

from pc_release.models import Verdict
from pc_release.release_config import matches_any

RULE = "web_fast_eligible"
# Enough offending paths to act on; the count says how many more there are.
SHOWN_PATHS = 50


def offending_paths(changed_paths: Sequence[str], web_only_paths: Sequence[str]) -> list[str]:
    """The changed paths that no web-only pattern covers, in the order given."""
    patterns = list(web_only_paths)
    return [path for path in changed_paths if not matches_any(path, patterns)]


def web_fast_eligible(
    *,
    profile: str,
    released_sha: str | None,
    candidate_sha: str,
    changed_paths: Sequence[str],
    web_only_paths: Sequence[str],
) -> Verdict:
    """PLATFORM_CONTROL_RELEASE_PROFILE=web-fast only when every path changed since the release is web-only.

    The diff is taken against what is released now, not against master: the narrowed web-fast pipeline
    deploys everything between the two, so a backend change merged earlier but never released would ship
    without backend, API, schema, worker or infra gates.
    """
    if profile != "web-fast":
        return Verdict(rule=RULE, ok=True, reason=f"profile {profile}: every path may change")
    if released_sha is None:
        return Verdict(
            rule=RULE,
            ok=False,
            reason="web-fast needs a released SHA to diff against and the release branch does not exist; "
            "release with the standard profile",
            evidence={"candidate_sha": candidate_sha, "web_only_paths": list(web_only_paths)},
        )
    offending = offending_paths(changed_paths, web_only_paths)
    evidence: dict[str, str | int | bool | list[str]] = {
        "released_sha": released_sha,
        "candidate_sha": candidate_sha,
        "changed_paths": len(changed_paths),
        "web_only_paths": list(web_only_paths),
        "offending_paths": offending[:SHOWN_PATHS],
        "offending_count": len(offending),
    }
    span = f"between released {released_sha[:12]} and candidate {candidate_sha[:12]}"
    if offending:
        shown = ", ".join(offending[:5]) + (f" and {len(offending) - 5} more" if len(offending) > 5 else "")
        return Verdict(
            rule=RULE,
            ok=False,
            reason=f"web-fast refused: {len(offending)} of {len(changed_paths)} path(s) changed {span} are "
            f"outside the web-only paths ({', '.join(web_only_paths) or 'none declared'}): {shown}. "
            "Backend/API/schema/worker/infra changes are never web-fast; release with the standard profile",
            evidence=evidence,
        )
    return Verdict(
        rule=RULE,
        ok=True,
        reason=f"all {len(changed_paths)} path(s) changed {span} are web-only",
        evidence=evidence,
    )
