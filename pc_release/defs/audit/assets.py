"""release_drift (the scheduled drift audit), promotion_plan (a dry run of promote_release) and release_state
(what is released now, reported by release_state_sensor)."""

from datetime import UTC, datetime, timedelta

import dagster as dg
from pydantic import Field

from pc_release.defs.audit.drift import read_drift_state
from pc_release.defs.audit.plan import build_plan, promotion_gate_specs, render_plan
from pc_release.defs.audit.reads import GitReads
from pc_release.defs.audit.records import last_promotion
from pc_release.defs.promotion.assets import check_result
from pc_release.defs.promotion.config import PromotionConfig
from pc_release.models import Verdict
from pc_release.policy.audit import AUDIT_RULES, DEV_TEST, DriftState, audit_verdicts, describe_commit
from pc_release.resources.files import ReleaseFilesResource
from pc_release.resources.git import GitResource
from pc_release.resources.gitlab import GitLabResource
from pc_release.resources.policy import ReleasePolicyResource

GROUP = "audit"

_AUDIT_DESCRIPTIONS = {
    "release_branch_guard": "No commits on the release branch that master lacks (SHAs, authors, subjects).",
    "release_behind_master": "How many master commits are not released, and the age of the promoted SHA.",
    "dev_test_follow_up": "A dev-test SHA on the release branch is merged fast-forward to master, promoted and "
    "deployed standard within the configured bound.",
    "release_matches_record": "The release tip is the SHA pc-release last recorded promoting.",
    "watched_paths_match_master": "Runtime files, config keys, generated artifacts and tests declared in "
    ".pc-release.yaml are not lost or changed by release-only commits.",
    "diverged_commits_on_master": "Commits a promotion moved the release branch off, kept under "
    "refs/pc-release/diverged/, are on master (the same commit or a cherry-pick of it).",
}


release_state = dg.AssetSpec(
    "release_state",
    group_name=GROUP,
    kinds={"git", "gitlab"},
    description="What is released now and how far it is from master: release SHA, master head, commits behind, "
    "master CI on the head, the last promotion's outcome and age. Reported by release_state_sensor as soon as "
    "one of them changes.",
)


def _summary(state: DriftState, verdicts: list[Verdict]) -> str:
    marks = {True: "ok", False: "FAILED"}
    lines = [
        f"## Release drift: `{state.release_branch}` vs `{state.master_branch}`",
        "",
        f"- master `{state.master.sha}`; release `{state.release.sha if state.release else '(absent)'}`",
        f"- behind master: {state.behind} commit(s); release-only: {state.ahead} commit(s)",
        "",
        "| check | state | finding |",
        "|---|---|---|",
    ]
    for v in verdicts:
        state_text = "warning" if v.ok and v.warning else marks[v.ok]
        lines.append(f"| `{v.rule}` | {state_text} | {v.reason.replace('|', '/')} |")
    if state.release_only_commits:
        lines += ["", "### Release-only commits", ""] + [f"- {describe_commit(c)}" for c in state.release_only_commits]
    for kept in state.kept_not_on_master:
        lines += ["", f"### Kept under `{kept.ref}`, not on master", ""]
        lines += [f"- {describe_commit(c)}" for c in kept.commits]
    follow_up = next(v for v in verdicts if v.rule == DEV_TEST).evidence.get("follow_up")
    if isinstance(follow_up, list):
        lines += ["", "### Required dev-test follow-up", ""] + [f"1. `{step}`" for step in follow_up]
    return "\n".join(lines)


@dg.asset(
    group_name=GROUP,
    kinds={"git"},
    check_specs=[
        dg.AssetCheckSpec(rule, asset="release_drift", description=_AUDIT_DESCRIPTIONS[rule]) for rule in AUDIT_RULES
    ],
)
def release_drift(
    context: dg.AssetExecutionContext,
    git: GitResource,
    release_files: ReleaseFilesResource,
    policy: ReleasePolicyResource,
):
    """How release/platform-control differs from master and from what pc-release recorded promoting."""
    reads = GitReads(git.clone())
    state = read_drift_state(reads, last=last_promotion(context.instance, release_files), now=datetime.now(UTC))
    verdicts = audit_verdicts(state, timedelta(hours=policy.dev_test_max_age_hours))
    for verdict in verdicts:
        if not verdict.ok or verdict.warning:
            context.log.warning(f"{verdict.rule}: {verdict.reason}")
    last = state.last_promotion
    return dg.MaterializeResult(
        value=state,
        metadata={
            "master_sha": state.master.sha,
            "release_sha": state.release.sha if state.release else "(absent)",
            "behind": state.behind,
            "release_only": state.ahead,
            "watched_drift": state.watched_drift_count,
            "kept_not_on_master": dg.MetadataValue.json(
                [c.sha for kept in state.kept_not_on_master for c in kept.commits]
            ),
            "last_promotion": f"{last.sha} ({last.kind}, {last.source})" if last else "(none recorded)",
            "failed_checks": dg.MetadataValue.json([v.rule for v in verdicts if not v.ok]),
            "git_commands": len(reads.commands),
            "summary": dg.MetadataValue.md(_summary(state, verdicts)),
        },
        check_results=[check_result(v, "release_drift") for v in verdicts],
    )


class PlanConfig(PromotionConfig):
    dev_test: bool = Field(default=False, description="Plan the dev-test bypass instead of a release.")


@dg.asset(group_name=GROUP, kinds={"git", "gitlab"})
def promotion_plan(
    context: dg.AssetExecutionContext,
    config: PlanConfig,
    git: GitResource,
    gitlab: GitLabResource,
    release_files: ReleaseFilesResource,
    policy: ReleasePolicyResource,
):
    """What promote_release (or dev_test_deploy) would do for this request; pushes and triggers nothing."""
    # Imported here: the wiring module imports this domain, and the plan needs every domain's gates.
    from pc_release.definitions import DOMAINS

    request = config.to_request(dev_test=config.dev_test, policy=policy)
    plan = build_plan(
        request,
        GitReads(git.clone()),
        gitlab,
        promotion_gate_specs(domain.defs for domain in DOMAINS),
        release_files.dist_dir,
        context.instance,
        last_promotion(context.instance, release_files),
    )
    verdict = (
        "would proceed" if plan.would_proceed else "would be refused by " + ", ".join(v.rule for v in plan.refusals)
    )
    context.log.info(f"plan for {request.source_ref} -> {plan.sha}: {verdict}")
    return dg.MaterializeResult(
        value=plan,
        metadata={
            "sha": plan.sha,
            "release_sha": plan.release_sha or "(absent)",
            "kind": request.kind,
            "mode": request.mode,
            "profile": request.profile,
            "would_proceed": plan.would_proceed,
            "refused_by": dg.MetadataValue.json([v.rule for v in plan.refusals]),
            "commits_to_ship": plan.commits_to_ship,
            "files_changed": plan.files_changed,
            "pipeline_variables": dg.MetadataValue.json(plan.pipeline_variables),
            "plan": dg.MetadataValue.md(render_plan(plan)),
        },
    )
