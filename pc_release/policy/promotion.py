"""Promotion rules from the platform-control release policy, one pure function per rule."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from pc_release.errors import InvalidInput
from pc_release.models import BranchAccess, CommitInfo, PipelineInfo, PromotionRequest, Verdict

FULL_SHA = re.compile(r"[0-9a-f]{40}")
_HEXISH = re.compile(r"[0-9a-fA-F]{4,39}")
_ALNUM40 = re.compile(r"[0-9A-Za-z]{40}")
# Revision syntax: valid for git, but it computes a commit from a ref instead of naming one.
_REVISION_SYNTAX = {"..": "a range", "@{": "a reflog entry", "~": "an ancestor", "^": "a parent", ":": "a path"}
# git check-ref-format forbids these anywhere in a ref name.
_FORBIDDEN_REF_PARTS = ("\\", " ", "?", "*", "[", "//")
# Refs are files under .git/refs, whose names file systems cap at 255 bytes (NAME_MAX): a longer ref is hostile
# or a paste error, refused before it is run or echoed in full.
MAX_REF_LENGTH = 255
_SHOWN_REF_LENGTH = 60

# The namespace of refs pc-release owns: the commits it moved the release branch off, kept reachable.
KEPT_REFS = "refs/pc-release/diverged"

MODES = ("full", "deploy")
PROFILES = ("standard", "web-fast")

# Gate names, declared with their rules below and listed in the gate registry (policy/gates.py).
REACHABLE_FROM_MASTER = "reachable_from_master"
RELEASE_BRANCH_GUARD = "release_branch_guard"
MASTER_CI_GREEN = "master_ci_green_on_exact_sha"
CAN_TRIGGER_PIPELINE = "gitlab_can_trigger_release_pipeline"
FAILED_SHA_RETRY = "failed_sha_retry"
CANDIDATE_MATCHES = "candidate_matches_release_branch"
PLAN_WOULD_PROCEED = "plan_would_proceed"


def shown_ref(ref: str) -> str:
    """A ref as messages quote it: repr'd, and cut short, so hostile input is echoed once and briefly."""
    if len(ref) <= _SHOWN_REF_LENGTH:
        return repr(ref)
    return f"{ref[:_SHOWN_REF_LENGTH]!r}... ({len(ref)} characters)"


def validate_ref(ref: str) -> str:
    """Accept a ref name or a full SHA only if git could not mistake it for anything else.

    Refs reach `git` as arguments, so option-like input (`--upload-pack=...`) must never get that far. Revision
    expressions (`master~1`, `a..b`, `HEAD@{1}`) are refused too: a promotion names its commit, it does not
    compute one.
    """
    if not ref or not ref.strip():
        raise InvalidInput("source ref is empty", rule="ref-syntax")
    if len(ref) > MAX_REF_LENGTH:
        raise InvalidInput(
            f"source ref {shown_ref(ref)} is longer than {MAX_REF_LENGTH} characters, which no branch or tag is",
            rule="ref-syntax",
        )
    shown = shown_ref(ref)
    if ref != ref.strip():
        raise InvalidInput(f"source ref {shown} has leading or trailing whitespace", rule="ref-syntax")
    if ref.startswith("-"):
        raise InvalidInput(f"source ref {shown} looks like a command-line option", rule="ref-syntax")
    if any(unicodedata.category(ch).startswith("C") for ch in ref):
        raise InvalidInput(f"source ref {shown} contains control characters", rule="ref-syntax")
    if _ALNUM40.fullmatch(ref) and not FULL_SHA.fullmatch(ref.lower()):
        raise InvalidInput(f"{shown} is 40 characters but not a hexadecimal SHA", rule="exact-sha")
    if _HEXISH.fullmatch(ref):
        raise InvalidInput(
            f"{shown} looks like an abbreviated SHA; promote one exact commit by its full 40-digit SHA",
            rule="exact-sha",
        )
    for part, meaning in _REVISION_SYNTAX.items():
        if part in ref:
            raise InvalidInput(
                f"source ref {shown} contains {part!r}, git revision syntax for {meaning}; pc-release promotes a "
                "branch, tag or full SHA as named, not a commit computed from one: give that commit's full SHA",
                rule="ref-syntax",
            )
    for part in _FORBIDDEN_REF_PARTS:
        if part in ref:
            raise InvalidInput(
                f"source ref {shown} contains {part!r}, which git forbids in ref names", rule="ref-syntax"
            )
    if ref.endswith((".", "/", ".lock")) or ref.startswith("/") or "/." in ref or ref.startswith("."):
        raise InvalidInput(f"source ref {shown} is not a valid git ref name", rule="ref-syntax")
    if ref == "@":
        raise InvalidInput("source ref '@' is ambiguous; name a branch or a SHA", rule="ref-syntax")
    return ref


def ref_candidates(ref: str) -> tuple[str, ...]:
    """The full ref names a short name could mean, in git's own lookup order (`git rev-parse`'s rules).

    A name starting with `refs/` means exactly that ref. HEAD is the only name outside refs/ that is looked up.
    """
    if ref.startswith("refs/"):
        return (ref,)
    names = (f"refs/{ref}", f"refs/tags/{ref}", f"refs/heads/{ref}", f"refs/remotes/{ref}", f"refs/remotes/{ref}/HEAD")
    return ("HEAD", *names) if ref == "HEAD" else names


def pick_ref(ref: str, found: Mapping[str, str], where: str) -> tuple[str, str]:
    """(full name, object id) of the one ref `ref` names, given which candidates exist; else the refusal.

    git itself would take the first candidate in its order and only warn, so a tag named like a remote branch
    (`origin/master`) would silently win over the branch: a name that fits two refs is refused instead.
    """
    if not found:
        raise InvalidInput(f"{shown_ref(ref)} does not name a commit in {where}", rule="unknown-ref")
    if len(found) > 1:
        both = " and ".join(f"{name} ({oid[:12]})" for name, oid in found.items())
        raise InvalidInput(
            f"{shown_ref(ref)} is ambiguous: it names {both}; give the full name of the one you mean",
            rule="ambiguous-ref",
        )
    ((name, oid),) = found.items()
    return name, oid


def validate_mode(mode: str) -> str:
    if mode not in MODES:
        raise InvalidInput(
            f"PLATFORM_CONTROL_RELEASE_MODE={mode!r} is not one of {', '.join(MODES)}", rule="release-mode"
        )
    return mode


def validate_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise InvalidInput(
            f"PLATFORM_CONTROL_RELEASE_PROFILE={profile!r} is not one of {', '.join(PROFILES)}",
            rule="release-profile",
        )
    return profile


def build_request(
    *,
    source_ref: str,
    mode: str,
    profile: str,
    dev_test: bool,
    skip_local_preflight: bool,
    require_local_preflight: bool,
    allow_divergence: bool,
    preflight_scope: str | None = None,
    transient_retry_reason: str | None = None,
) -> PromotionRequest:
    """Turn operator input into a request, or refuse it with the rule it breaks."""
    validate_ref(source_ref)
    validate_mode(mode)
    validate_profile(profile)
    if skip_local_preflight and require_local_preflight:
        raise InvalidInput(
            "PLATFORM_CONTROL_SKIP_LOCAL_PREFLIGHT and PLATFORM_CONTROL_REQUIRE_LOCAL_PREFLIGHT are both true; "
            "choose one",
            rule="preflight-flags",
        )
    if dev_test and mode != "deploy":
        # The policy's bypass always triggers a deploy-mode pipeline.
        raise InvalidInput(f"a dev-test deploy runs in deploy mode, not {mode!r}", rule="dev-test-mode")
    if transient_retry_reason is not None and not transient_retry_reason.strip():
        raise InvalidInput("transient_retry needs a reason naming the infrastructure failure", rule="failed-sha")
    return PromotionRequest(
        source_ref=source_ref,
        mode=mode,  # type: ignore[arg-type]
        profile=profile,  # type: ignore[arg-type]
        kind="dev-test" if dev_test else "release",
        # The dev-test bypass skips local preflight unless the operator asked for it.
        skip_local_preflight=skip_local_preflight or (dev_test and not require_local_preflight),
        require_local_preflight=require_local_preflight,
        allow_divergence=allow_divergence or dev_test,
        preflight_scope=preflight_scope or None,
        transient_retry_reason=transient_retry_reason,
    )


def reachable_from_master(sha: str, on_master: bool, request: PromotionRequest) -> Verdict:
    """release/platform-control may only point at a SHA already integrated in master."""
    if on_master:
        return Verdict(rule=REACHABLE_FROM_MASTER, ok=True, reason=f"{sha} is reachable from master")
    if request.dev_test:
        return Verdict(
            rule=REACHABLE_FROM_MASTER,
            status="warning",
            reason=f"{sha} is not on master: allowed only by the dev-test bypass, recorded as not a release",
        )
    if request.allow_divergence:
        return Verdict(
            rule=REACHABLE_FROM_MASTER,
            status="warning",
            reason=f"{sha} is not on master: allowed by PLATFORM_CONTROL_ALLOW_RELEASE_BRANCH_DIVERGENCE "
            "(incident override), recorded as not a release",
        )
    return Verdict(
        rule=REACHABLE_FROM_MASTER,
        ok=False,
        reason=f"{sha} is not reachable from master; integrate the change into master and promote that SHA",
    )


def kept_ref_name(sha: str, at: datetime) -> str:
    """The ref under which pc-release keeps the commits it moves the release branch off: one per kept tip."""
    return f"{KEPT_REFS}/{at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{sha}"


def release_branch_divergence(
    release_only: Sequence[CommitInfo],
    request: PromotionRequest,
    release_branch: str,
    dev_test_tip: str | None = None,
) -> Verdict:
    """Commits only on the release branch must be merged back to master, never dropped silently.

    `dev_test_tip` is the release tip when pc-release's newest record says a dev-test deploy put it there: the
    policy's normal flow follows a dev-test, so the promotion may move off it (keeping its commits under a ref)."""
    evidence: dict[str, str | int | bool | list[str]] = {
        "release_only_commits": [f"{c.sha} {c.author}: {c.subject}" for c in release_only]
    }
    if not release_only:
        return Verdict(rule=RELEASE_BRANCH_GUARD, ok=True, reason=f"{release_branch} has no release-only commits")
    count = len(release_only)
    kept = f"moving off them keeps them under {KEPT_REFS}/, and the drift audit flags each until master has it"
    if dev_test_tip is not None:
        return Verdict(
            rule=RELEASE_BRANCH_GUARD,
            status="warning",
            reason=f"{release_branch} has {count} commit(s) not on master, all from the recorded dev-test deploy of "
            f"{dev_test_tip}: the normal flow follows a dev-test, so {kept}",
            evidence=evidence | {"dev_test_sha": dev_test_tip},
        )
    if request.allow_divergence:
        return Verdict(
            rule=RELEASE_BRANCH_GUARD,
            status="warning",
            reason=f"{release_branch} has {count} commit(s) not on master; override in force "
            "(PLATFORM_CONTROL_ALLOW_RELEASE_BRANCH_DIVERGENCE=true): merge them back to master after the incident; "
            f"{kept}",
            evidence=evidence,
        )
    return Verdict(
        rule=RELEASE_BRANCH_GUARD,
        ok=False,
        reason=f"{release_branch} has {count} commit(s) not reachable from master; merge them into master "
        "first (or set PLATFORM_CONTROL_ALLOW_RELEASE_BRANCH_DIVERGENCE=true for incident response)",
        evidence=evidence,
    )


def dev_test_clean_tree(dirty_paths: Sequence[str]) -> Verdict:
    """The dev-test bypass requires a clean working tree, so the deployed SHA is what was tested."""
    if not dirty_paths:
        return Verdict(rule="dev_test_clean_tree", ok=True, reason="working tree is clean")
    shown = list(dirty_paths[:20])
    return Verdict(
        rule="dev_test_clean_tree",
        ok=False,
        reason=f"dev-test deploy requires a clean working tree; {len(dirty_paths)} path(s) are modified or "
        "untracked: commit or stash them",
        evidence={"dirty_paths": shown},
    )


def master_ci_green_on_exact_sha(
    sha: str, pipeline: PipelineInfo | None, master_branch: str, request: PromotionRequest
) -> Verdict:
    """Green CI on master for the exact SHA is the primary promotion gate."""
    if request.dev_test and pipeline is None:
        return Verdict(
            rule=MASTER_CI_GREEN,
            status="warning",
            reason=f"no master pipeline for {sha}: the dev-test bypass does not need one and does not replace it",
        )
    if pipeline is None:
        return Verdict(
            rule=MASTER_CI_GREEN,
            ok=False,
            reason=f"no {master_branch} pipeline exists for {sha}; CI must be green on the exact SHA",
        )
    evidence: dict[str, str | int | bool | list[str]] = {
        "pipeline_id": pipeline.id,
        "pipeline_url": pipeline.web_url,
        "pipeline_status": pipeline.status,
    }
    if pipeline.sha != sha or pipeline.ref != master_branch:
        return Verdict(
            rule=MASTER_CI_GREEN,
            ok=False,
            reason=f"pipeline {pipeline.id} ran {pipeline.ref}@{pipeline.sha[:12]}, not {master_branch}@{sha[:12]}",
            evidence=evidence,
        )
    if pipeline.status == "success":
        return Verdict(
            rule=MASTER_CI_GREEN,
            ok=True,
            reason=f"{master_branch} pipeline {pipeline.id} is green on {sha}",
            evidence=evidence,
        )
    if request.dev_test:
        return Verdict(
            rule=MASTER_CI_GREEN,
            status="warning",
            reason=f"{master_branch} pipeline {pipeline.id} is {pipeline.status}; ignored by the dev-test bypass",
            evidence=evidence,
        )
    return Verdict(
        rule=MASTER_CI_GREEN,
        ok=False,
        reason=f"{master_branch} pipeline {pipeline.id} for {sha} is {pipeline.status}, not success",
        evidence=evidence,
    )


def pipeline_variables(request: PromotionRequest, request_id: str) -> dict[str, str]:
    """The variables the release pipeline is triggered with, by the policy's own names."""
    variables = {
        "PLATFORM_CONTROL_RELEASE_MODE": request.mode,
        "PLATFORM_CONTROL_RELEASE_PROFILE": request.profile,
        "PC_RELEASE_REQUEST_ID": request_id,
    }
    if request.allow_divergence:
        variables["PLATFORM_CONTROL_ALLOW_RELEASE_BRANCH_DIVERGENCE"] = "true"
    if request.dev_test:
        variables["PLATFORM_CONTROL_DEV_TEST_DEPLOY"] = "true"
    return variables


def guard_verdict(release_only: Sequence[CommitInfo], allow_divergence: bool, release_branch: str) -> Verdict:
    """The CI release-branch guard: the same rule as promotion, phrased for a pipeline log."""
    request = PromotionRequest(allow_divergence=allow_divergence)
    return release_branch_divergence(release_only, request, release_branch)


# GitLab's Developer role is the least that may run pipelines; on a protected branch the user must also be
# allowed to push or merge there.
DEVELOPER_ACCESS = 30
MAINTAINER_ACCESS = 40
# GitLab's access levels (doc/api/members.md), by the names GitLab gives them.
_ROLES = {
    0: "No access",
    5: "Minimal access",
    10: "Guest",
    15: "Planner",
    20: "Reporter",
    30: "Developer",
    40: "Maintainer",
    50: "Owner",
}


def _role(access_level: int) -> str:
    return f"{_ROLES.get(access_level, 'access level')} ({access_level})"


def gitlab_can_trigger_release_pipeline(
    access_level: int | None, release_branch: BranchAccess | None = None
) -> Verdict:
    """Refuse before the push when the token could never create the release pipeline after it.

    `release_branch` is None when the branch does not exist yet (the push creates it)."""
    rule = CAN_TRIGGER_PIPELINE
    if access_level is None:
        return Verdict(
            rule=rule, status="warning", reason="GitLab did not report the token's access level; not checked"
        )
    # A role, not a number to plot: Dagster charts numeric check metadata over time.
    evidence: dict[str, str | int | bool | list[str]] = {"access_level": _role(access_level)}
    if access_level < DEVELOPER_ACCESS:
        return Verdict(
            rule=rule,
            ok=False,
            reason=f"the GitLab token's access level is {access_level}; running the release pipeline needs Developer "
            f"({DEVELOPER_ACCESS}) or more, so nothing is pushed",
            evidence=evidence,
        )
    if release_branch is None or not release_branch.protected:
        state = "does not exist yet" if release_branch is None else "is not protected"
        return Verdict(
            rule=rule,
            ok=True,
            reason=f"the token's access level {access_level} may run pipelines (the release branch {state})",
            evidence=evidence,
        )
    evidence |= {
        "branch": release_branch.name,
        "protected": True,
        "can_push": release_branch.can_push,
        "developers_can_merge": release_branch.developers_can_merge,
    }
    if release_branch.can_push or release_branch.developers_can_merge:
        right = "push to" if release_branch.can_push else "merge into"
        return Verdict(
            rule=rule,
            ok=True,
            reason=f"{release_branch.name} is protected and the token's user may {right} it, so may run its pipelines",
            evidence=evidence,
        )
    if access_level >= MAINTAINER_ACCESS:
        return Verdict(
            rule=rule,
            status="warning",
            reason=f"{release_branch.name} is protected and the token's user may not push to it; GitLab does not say "
            "whether Maintainers may merge into it, so the release pipeline may still be refused after the push",
            evidence=evidence,
        )
    return Verdict(
        rule=rule,
        ok=False,
        reason=f"{release_branch.name} is protected and the token's user (access level {access_level}) may neither "
        "push nor merge to it, so GitLab would refuse the release pipeline after the push; nothing is pushed. "
        "Use a token whose user is allowed to push or merge to the release branch",
        evidence=evidence,
    )


# GitLab names a project's repository by `http_url_to_repo` and `ssh_url_to_repo`; git also accepts the scp-like
# `user@host:path` form and a path without `.git`.
_SCP_LIKE = re.compile(r"(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>(?!/).+)")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ssh": 22}


def repository_location(url: str) -> tuple[str, str, int, str] | None:
    """(scheme, host, port, path) of a network git URL, or None for a local path or `file://` URL.

    Credentials, a trailing `/` and `.git` are dropped; host and path are lower-cased because GitLab resolves
    project paths case-insensitively."""
    if "://" not in url:
        match = _SCP_LIKE.fullmatch(url)
        if match is None:
            return None
        scheme, host, port, path = "ssh", match["host"], 22, match["path"]
    else:
        parts = urlsplit(url)
        scheme = "ssh" if parts.scheme in ("ssh", "git+ssh", "ssh+git") else parts.scheme
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            return None
        try:
            port = parts.port or _DEFAULT_PORTS[scheme]
        except ValueError:
            return None
        host, path = parts.hostname, parts.path
    path = path.strip("/").removesuffix(".git").strip("/")
    return scheme, host.lower(), port, path.lower()


def shown_url(url: str) -> str:
    """A remote URL fit for logs and errors: without the credentials an operator may have put in it."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def remote_is_gitlab_project(
    remote: str, remote_urls: Sequence[str], http_url_to_repo: str | None, ssh_url_to_repo: str | None
) -> Verdict:
    """Refuse to push unless every URL the remote fetches from and pushes to is the configured GitLab project:
    a push to a fork would look successful while GitLab's release branch never moves."""
    rule = "remote_is_gitlab_project"
    project = {
        location for url in (http_url_to_repo, ssh_url_to_repo) if url and (location := repository_location(url))
    }
    strangers = [shown_url(url) for url in remote_urls if repository_location(url) not in project]
    evidence: dict[str, str | int | bool | list[str]] = {
        "remote": remote,
        "remote_urls": [shown_url(url) for url in remote_urls],
        "http_url_to_repo": http_url_to_repo or "",
        "ssh_url_to_repo": ssh_url_to_repo or "",
    }
    if not project:
        return Verdict(
            rule=rule,
            ok=False,
            reason="GitLab did not name the project's repository URLs (http_url_to_repo, ssh_url_to_repo), so the "
            f"remote {remote!r} cannot be confirmed as the project; nothing is pushed",
            evidence=evidence,
        )
    if strangers or not remote_urls:
        return Verdict(
            rule=rule,
            ok=False,
            reason=f"the clone's remote {remote!r} points at {', '.join(strangers) or 'nothing'}, not the GitLab "
            f"project ({http_url_to_repo} or {ssh_url_to_repo}); a push there would not move GitLab's release "
            "branch. Point the remote at the project, or set PC_RELEASE_REMOTE to one that does; nothing is pushed",
            evidence=evidence,
        )
    return Verdict(
        rule=rule, ok=True, reason=f"the remote {remote!r} is the GitLab project {http_url_to_repo}", evidence=evidence
    )


def gitlab_branch_at_pushed_sha(branch: str, pushed_sha: str, gitlab_sha: str | None) -> Verdict:
    """After the push, GitLab's own branch must be at the pushed SHA before a pipeline is created for it: a
    pipeline runs what GitLab's branch holds, not what git said it pushed."""
    rule = "gitlab_branch_at_pushed_sha"
    evidence: dict[str, str | int | bool | list[str]] = {"pushed_sha": pushed_sha, "gitlab_sha": gitlab_sha or ""}
    if gitlab_sha == pushed_sha:
        return Verdict(rule=rule, ok=True, reason=f"GitLab's {branch} is at {pushed_sha}", evidence=evidence)
    return Verdict(
        rule=rule,
        ok=False,
        reason=f"GitLab's {branch} is at {gitlab_sha or '(absent)'}, not the pushed {pushed_sha}: someone moved it "
        "after the push, or the push went elsewhere; no release pipeline is created. Check what is on the branch "
        "before promoting again",
        evidence=evidence,
    )


def reusable_request_pipeline(
    newest_first: Sequence[PipelineInfo],
    sha: str,
    request_id: str,
    request_id_of: Callable[[PipelineInfo], str | None],
    pipelines_before_push: int,
) -> PipelineInfo | None:
    """The pipeline an earlier attempt of this request created, if it is still the release branch's last deploy.

    Pipelines up to `pipelines_before_push` ran before this run's push, so never deploy what it pushed. Only
    GitLab's own push pipeline for `sha` may be newer than ours. Any other newer pipeline, with or without a
    request id, means someone deployed since: re-using ours would claim a deploy that is no longer the last one,
    so the caller creates a new pipeline."""
    for pipeline in newest_first:
        if pipeline.id <= pipelines_before_push:
            return None
        if pipeline.source == "push" and pipeline.sha == sha:
            continue
        if pipeline.sha == sha and request_id_of(pipeline) == request_id:
            return pipeline
        return None
    return None


def failed_sha_retry(sha: str, last: PipelineInfo | None, request: PromotionRequest) -> Verdict:
    """Do not retry a SHA whose last release pipeline failed, unless the failure was transient infrastructure."""
    reason_given = (request.transient_retry_reason or "").strip()
    evidence: dict[str, str | int | bool | list[str]] = {"sha": sha}
    if reason_given:
        evidence["transient_retry_reason"] = reason_given
    if last is None:
        return Verdict(
            rule=FAILED_SHA_RETRY, ok=True, reason=f"no earlier release pipeline ran {sha}", evidence=evidence
        )
    evidence |= {"last_pipeline_id": last.id, "last_pipeline_url": last.web_url, "last_pipeline_status": last.status}
    if last.status != "failed":
        return Verdict(
            rule=FAILED_SHA_RETRY,
            ok=True,
            reason=f"the last release pipeline for {sha} ({last.id}) is {last.status}, not failed",
            evidence=evidence,
        )
    if request.dev_test:
        return Verdict(
            rule=FAILED_SHA_RETRY,
            status="warning",
            reason=f"release pipeline {last.id} for {sha} failed; a dev-test deploy may run it again (not a release)",
            evidence=evidence,
        )
    if reason_given:
        return Verdict(
            rule=FAILED_SHA_RETRY,
            status="warning",
            reason=f"release pipeline {last.id} for {sha} failed; retry allowed because the operator states the "
            f"failure was transient infrastructure: {reason_given}",
            evidence=evidence,
        )
    return Verdict(
        rule=FAILED_SHA_RETRY,
        ok=False,
        reason=f"release pipeline {last.id} for {sha} failed ({last.web_url}); fix the failure on master and "
        "promote the new SHA, or, only if the failure was proven transient infrastructure, retry with "
        "transient_retry_reason stating it",
        evidence=evidence,
    )


def candidate_matches_release_branch(
    candidate_sha: str | None, remote_sha: str | None, source_sha: str, pushed_sha: str, release_branch: str
) -> Verdict:
    """The candidate env just written, the remote release branch and the resolved source are one SHA."""
    same = candidate_sha == remote_sha == source_sha == pushed_sha
    return Verdict(
        rule=CANDIDATE_MATCHES,
        ok=same,
        reason=(
            f"candidate env, {release_branch} and source all point at {source_sha}"
            if same
            else f"mismatch: candidate env {candidate_sha}, remote {release_branch} {remote_sha}, source "
            f"{source_sha}; do not trigger a deploy from this candidate"
        ),
        evidence={
            "candidate_sha": candidate_sha or "",
            "remote_release_sha": remote_sha or "",
            "source_sha": source_sha,
        },
    )


def plan_would_proceed(refusals: Sequence[Verdict]) -> Verdict:
    """The dry run's own verdict: a plan the promotion would refuse is a warning, never a quiet success."""
    if not refusals:
        return Verdict(rule=PLAN_WOULD_PROCEED, ok=True, reason="would proceed: no gate the plan evaluates refuses")
    return Verdict(
        rule=PLAN_WOULD_PROCEED,
        status="warning",
        reason="would be refused by " + ", ".join(f"{v.rule} ({v.reason})" for v in refusals),
        evidence={"refused_by": [v.rule for v in refusals]},
    )
