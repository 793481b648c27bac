"""Drift audit rules: what release/platform-control must look like between promotions, judged from git facts.

Records in, verdicts out. The facts (`DriftState`) are gathered with bounded git commands by the audit domain;
every rule here only reads them, so each is table-tested without a repository.
"""

from __future__ import annotations

import json
import tomllib
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import Literal

import yaml
from pydantic import Field

from pc_release.models import CommitInfo, KeptCommits, Record, Verdict
from pc_release.policy.promotion import RELEASE_BRANCH_GUARD

# The drift audit judges the release branch by the promotion's own guard rule, under the same name.
GUARD = RELEASE_BRANCH_GUARD
BEHIND = "release_behind_master"
DEV_TEST = "dev_test_follow_up"
RECORD = "release_matches_record"
WATCHED = "watched_paths_match_master"
KEPT = "diverged_commits_on_master"
AUDIT_RULES = (GUARD, BEHIND, DEV_TEST, RECORD, WATCHED, KEPT)

_CONFIG_SUFFIXES = (".yaml", ".yml", ".json", ".toml", ".env", ".properties")


class LastPromotion(Record):
    """What pc-release last recorded moving the release branch to, and where that record came from."""

    sha: str
    kind: str
    recorded_at: datetime
    source: str
    pipeline_url: str | None = None


class WatchedPathDrift(Record):
    """A watched path a release-only commit changed, compared with master's head.

    `missing`: on master, not on release (the incident: lost runtime files); `different`: on both, not equal
    (`missing_keys` names the config keys master has and release lacks); `release-only`: not on master.
    """

    path: str
    state: Literal["missing", "different", "release-only"]
    missing_keys: list[str] = Field(default_factory=list)


class DriftState(Record):
    """Everything the audit judges, read at one moment from the remote's two branches."""

    master_branch: str
    release_branch: str
    master: CommitInfo
    release: CommitInfo | None
    behind: int = 0
    ahead: int = 0
    release_only_commits: list[CommitInfo] = Field(default_factory=list)
    unreleased_commits: list[CommitInfo] = Field(default_factory=list)
    watched_paths: list[str] = Field(default_factory=list)
    watched_drift: list[WatchedPathDrift] = Field(default_factory=list)
    watched_drift_count: int = 0
    last_promotion: LastPromotion | None = None
    dev_test_sha_on_master: bool | None = None
    kept_refs: int = 0
    kept_not_on_master: list[KeptCommits] = Field(default_factory=list)
    audited_at: datetime


def _minutes(delta: timedelta) -> int:
    return max(int(delta.total_seconds() // 60), 0)


def format_age(delta: timedelta) -> str:
    """A duration as an operator reads it: '3d 4h', '5h 12m', '42m'."""
    minutes = _minutes(delta)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def describe_commit(commit: CommitInfo) -> str:
    return f"{commit.sha} {commit.author}: {commit.subject}"


def dev_test_follow_up_steps(sha: str, *, master_branch: str = "master", remote: str = "origin") -> list[str]:
    """The policy's required path after a dev-test deploy, for this SHA, in pc-release's and the scripts' terms."""
    return [
        f"git switch {master_branch}",
        f"git merge --ff-only {sha}",
        f"git push {remote} {master_branch}",
        f"wait for green {master_branch} CI on {sha}",
        f"pc-release promote {sha} --mode deploy --profile standard  (the policy's scripts: "
        f"scripts/ci/platform_control_promote_release_branch.sh {remote}/{master_branch}, then "
        "PLATFORM_CONTROL_RELEASE_MODE=deploy PLATFORM_CONTROL_RELEASE_PROFILE=standard "
        "scripts/ci/gitlab_pipeline_trigger.sh)",
    ]


def dev_test_deployed(kind: str, sha: str, *, release_branch: str, master_branch: str, remote: str) -> Verdict:
    """Right after a deploy: a dev-test one states the required path back to a release, in the run itself."""
    if kind != "dev-test":
        return Verdict(rule=DEV_TEST, ok=True, reason="a release through the normal flow: no dev-test follow-up")
    steps = dev_test_follow_up_steps(sha, master_branch=master_branch, remote=remote)
    return Verdict(
        rule=DEV_TEST,
        status="warning",
        reason=f"dev-test deploy of {sha[:12]}: not a release. Required path: {'; '.join(steps)}. The drift audit "
        f"flags {release_branch} until it is done",
        evidence={"dev_test_sha": sha, "follow_up": steps},
    )


def dev_test_tip(last: LastPromotion | None, release_sha: str | None) -> str | None:
    """`release_sha` when the newest record says pc-release put it on the release branch as a dev-test deploy."""
    if last is not None and last.kind == "dev-test" and release_sha is not None and last.sha == release_sha:
        return release_sha
    return None


def _dev_test_on_tip(state: DriftState) -> bool:
    return dev_test_tip(state.last_promotion, state.release.sha if state.release else None) is not None


def release_branch_guard(state: DriftState) -> Verdict:
    """Commits on the release branch that master lacks: each one will be dropped by the next promotion."""
    branch = state.release_branch
    if state.release is None:
        return Verdict(rule=GUARD, status="warning", reason=f"{branch} does not exist on the remote")
    if state.ahead == 0:
        return Verdict(rule=GUARD, ok=True, reason=f"{branch} has no commits that {state.master_branch} lacks")
    evidence: dict[str, str | int | bool | list[str]] = {
        "release_only_count": state.ahead,
        "release_only_commits": [describe_commit(c) for c in state.release_only_commits],
    }
    listed = "; ".join(f"{c.sha[:12]} {c.author}: {c.subject}" for c in state.release_only_commits[:5])
    more = f" and {state.ahead - 5} more" if state.ahead > 5 else ""
    if _dev_test_on_tip(state):
        return Verdict(
            rule=GUARD,
            status="warning",
            reason=f"{branch} carries {state.ahead} commit(s) not on {state.master_branch} from the dev-test deploy "
            f"of {state.release.sha[:12]} ({listed}{more}); see {DEV_TEST} for the required follow-up",
            evidence=evidence,
        )
    return Verdict(
        rule=GUARD,
        ok=False,
        reason=f"{branch} has {state.ahead} commit(s) not reachable from {state.master_branch}: {listed}{more}. "
        f"Fix on the source branch, merge to {state.master_branch}, and promote one exact SHA; the next "
        "promotion would drop these commits",
        evidence=evidence,
    )


def release_behind_master(state: DriftState) -> Verdict:
    """How far master has moved past what is released, and how old the released SHA is."""
    if state.release is None:
        return Verdict(rule=BEHIND, status="warning", reason=f"{state.release_branch} does not exist")
    age = state.audited_at - state.release.committed_at
    evidence: dict[str, str | int | bool | list[str]] = {
        "behind": state.behind,
        "promoted_sha": state.release.sha,
        "promoted_sha_committed_at": state.release.committed_at.isoformat(),
        "promoted_sha_age": format_age(age),
        "promoted_sha_age_minutes": _minutes(age),
        "master_sha": state.master.sha,
    }
    if state.behind == 0:
        return Verdict(
            rule=BEHIND,
            ok=True,
            reason=f"{state.release_branch} includes {state.master_branch} head {state.master.sha[:12]}",
            evidence=evidence,
        )
    evidence["unreleased_commits"] = [describe_commit(c) for c in state.unreleased_commits]
    return Verdict(
        rule=BEHIND,
        status="warning",
        reason=f"{state.release_branch} is {state.behind} commit(s) behind {state.master_branch} "
        f"({state.master.sha[:12]}); the promoted SHA {state.release.sha[:12]} was committed {format_age(age)} ago",
        evidence=evidence,
    )


def dev_test_follow_up(state: DriftState, max_age: timedelta) -> Verdict:
    """A dev-test deploy is bounded: merge to master fast-forward, promote that SHA, deploy standard."""
    last = state.last_promotion
    if last is None or last.kind != "dev-test":
        return Verdict(rule=DEV_TEST, ok=True, reason="no dev-test deploy awaits its follow-up")
    age = state.audited_at - last.recorded_at
    steps = dev_test_follow_up_steps(last.sha, master_branch=state.master_branch)
    merged = bool(state.dev_test_sha_on_master)
    evidence: dict[str, str | int | bool | list[str]] = {
        "dev_test_sha": last.sha,
        "deployed_at": last.recorded_at.isoformat(),
        "age": format_age(age),
        "age_minutes": _minutes(age),
        "bound": format_age(max_age),
        "bound_minutes": _minutes(max_age),
        "merged_to_master": merged,
        "follow_up": steps,
    }
    where = (
        f"merged to {state.master_branch} but not yet promoted through the normal flow"
        if merged
        else f"still not merged to {state.master_branch}"
    )
    path = "; ".join(steps)
    if age > max_age:
        return Verdict(
            rule=DEV_TEST,
            ok=False,
            reason=f"dev-test SHA {last.sha[:12]} was deployed {format_age(age)} ago, beyond the "
            f"{format_age(max_age)} bound, and is {where}. A dev-test deploy is not a release; required path: "
            f"{path}",
            evidence=evidence,
        )
    return Verdict(
        rule=DEV_TEST,
        status="warning",
        reason=f"dev-test SHA {last.sha[:12]} deployed {format_age(age)} ago (bound {format_age(max_age)}) is "
        f"{where}; it is not a release. Required path: {path}",
        evidence=evidence,
    )


def release_matches_record(state: DriftState) -> Verdict:
    """The release tip must be the SHA pc-release last recorded promoting; anything else was pushed around it."""
    last = state.last_promotion
    tip = state.release.sha if state.release else None
    if last is None:
        if tip is None:
            return Verdict(rule=RECORD, ok=True, reason="nothing released and nothing recorded")
        return Verdict(
            rule=RECORD,
            status="warning",
            reason=f"no promotion recorded by pc-release (release record, release branch or pipeline "
            f"materialization, candidate env); cannot confirm how {state.release_branch} reached {tip[:12]}",
            evidence={"release_sha": tip},
        )
    evidence: dict[str, str | int | bool | list[str]] = {
        "release_sha": tip or "(absent)",
        "recorded_sha": last.sha,
        "recorded_kind": last.kind,
        "recorded_at": last.recorded_at.isoformat(),
        "record_source": last.source,
    }
    if last.pipeline_url:
        evidence["pipeline_url"] = last.pipeline_url
    recorded = f"{last.sha[:12]} ({last.kind}, {last.source}, {last.recorded_at.isoformat(timespec='seconds')})"
    if tip == last.sha:
        return Verdict(
            rule=RECORD, ok=True, reason=f"{state.release_branch} is at the recorded {recorded}", evidence=evidence
        )
    return Verdict(
        rule=RECORD,
        ok=False,
        reason=f"{state.release_branch} is at {tip[:12] if tip else '(absent)'} but the last recorded promotion is "
        f"{recorded}: the branch was moved outside pc-release. Promote one exact {state.master_branch} SHA "
        "through pc-release so that what is released is what is recorded",
        evidence=evidence,
    )


def watched_paths_match_master(state: DriftState) -> Verdict:
    """Runtime files, config keys, generated artifacts and tests changed by release-only commits (the incident)."""
    if state.release is None:
        return Verdict(rule=WATCHED, status="warning", reason=f"{state.release_branch} does not exist")
    if state.ahead == 0:
        return Verdict(
            rule=WATCHED,
            ok=True,
            reason=f"{state.release.sha[:12]} is a {state.master_branch} commit: every watched path is as "
            f"{state.master_branch} had it there",
        )
    if not state.watched_drift:
        return Verdict(
            rule=WATCHED,
            ok=True,
            reason=f"the release-only commits leave every watched path as {state.master_branch} has it",
        )
    by_state = {
        kind: [d for d in state.watched_drift if d.state == kind] for kind in ("missing", "different", "release-only")
    }
    keys = [f"{d.path}: {key}" for d in state.watched_drift for key in d.missing_keys]
    evidence: dict[str, str | int | bool | list[str]] = {
        "missing_on_release": [d.path for d in by_state["missing"]],
        "different_on_release": [d.path for d in by_state["different"]],
        "release_only_paths": [d.path for d in by_state["release-only"]],
        "config_keys_missing_on_release": keys,
        "drifted_count": state.watched_drift_count,
        "watched_paths": state.watched_paths,
    }
    parts = []
    if by_state["missing"]:
        parts.append("missing on release: " + ", ".join(d.path for d in by_state["missing"][:10]))
    if by_state["different"]:
        parts.append("different on release: " + ", ".join(d.path for d in by_state["different"][:10]))
    if keys:
        parts.append("config keys missing on release: " + ", ".join(keys[:10]))
    if by_state["release-only"]:
        parts.append("only on release: " + ", ".join(d.path for d in by_state["release-only"][:10]))
    reason = (
        f"{state.watched_drift_count} watched path(s) changed by release-only commits differ from "
        f"{state.master_branch}: {'; '.join(parts)}. Deploying this would ship release drift; fix on the source "
        f"branch, merge to {state.master_branch}, promote one exact SHA"
    )
    if _dev_test_on_tip(state):
        return Verdict(
            rule=WATCHED,
            status="warning",
            reason=f"dev-test deploy of {state.release.sha[:12]}: {reason}",
            evidence=evidence,
        )
    return Verdict(rule=WATCHED, ok=False, reason=reason, evidence=evidence)


def diverged_commits_on_master(state: DriftState) -> Verdict:
    """Commits a promotion moved the release branch off (an override, or the normal flow after a dev-test) stay
    flagged until master has each of them, as the same commit or a cherry-pick of it."""
    kept = state.kept_not_on_master
    if not kept:
        held = f"the {state.kept_refs} kept ref(s) hold nothing {state.master_branch} lacks" if state.kept_refs else ""
        return Verdict(
            rule=KEPT,
            ok=True,
            reason=f"no commit the release branch was moved off is missing from {state.master_branch}"
            + (f": {held}" if held else ""),
        )
    commits = [describe_commit(c) for k in kept for c in k.commits]
    listed = "; ".join(f"{k.ref}: {', '.join(c.sha for c in k.commits[:5])}" for k in kept[:5])
    return Verdict(
        rule=KEPT,
        ok=False,
        reason=f"{len(commits)} commit(s) that {state.release_branch} was moved off are not on "
        f"{state.master_branch} ({listed}). They are kept under those refs: merge or cherry-pick them into "
        f"{state.master_branch}; a dev-test SHA or release-only fix is released only through {state.master_branch}",
        evidence={
            "kept_refs": [k.ref for k in kept],
            "commits_not_on_master": commits,
            "count": len(commits),
        },
    )


def audit_verdicts(state: DriftState, dev_test_max_age: timedelta) -> list[Verdict]:
    """Every drift rule, in AUDIT_RULES order."""
    return [
        release_branch_guard(state),
        release_behind_master(state),
        dev_test_follow_up(state, dev_test_max_age),
        release_matches_record(state),
        watched_paths_match_master(state),
        diverged_commits_on_master(state),
    ]


def is_config_file(path: str) -> bool:
    return PurePosixPath(path).suffix in _CONFIG_SUFFIXES


def config_keys(text: str, path: str) -> set[str]:
    """The keys a config file declares, nested mappings as dotted paths; empty when it is not a mapping."""
    if PurePosixPath(path).suffix in (".env", ".properties"):
        keys = set()
        for line in text.splitlines():
            line = line.strip().removeprefix("export ")
            if line and not line.startswith("#") and "=" in line:
                keys.add(line.split("=", 1)[0].strip())
        return keys
    parse = {".json": json.loads, ".toml": tomllib.loads}.get(PurePosixPath(path).suffix, yaml.safe_load)
    try:
        data = parse(text)
    except (ValueError, yaml.YAMLError):  # tomllib.TOMLDecodeError and json's errors are ValueErrors
        return set()
    keys: set[str] = set()

    def walk(node: object, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                name = f"{prefix}{key}"
                keys.add(name)
                walk(value, f"{name}.")

    walk(data, "")
    return keys


def missing_config_keys(master_text: str, release_text: str, path: str) -> list[str]:
    """Config keys master's version of `path` has and the release's lacks (the incident's lost keys)."""
    return sorted(config_keys(master_text, path) - config_keys(release_text, path))
