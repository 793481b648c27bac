"""The dry-run promotion plan: what promote_release would do for a request, computed without side effects.

Nothing here pushes, writes the candidate env or creates a pipeline: the plan resolves the SHA (after a fetch),
reads git and three GitLab resources (the master pipeline for the SHA, the token's access level, the release
branch's protection), and evaluates the promotion's own policy rules on what it found.
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from pc_release.defs.audit.checks import web_fast_verdict
from pc_release.defs.audit.reads import GitReads
from pc_release.defs.promotion.assets import request_id, token_gate
from pc_release.defs.promotion.history import previous_release
from pc_release.models import CommitInfo, PromotionRequest, Record, SourceCommit, Verdict
from pc_release.policy import promotion as rules
from pc_release.policy.audit import LastPromotion, dev_test_tip
from pc_release.policy.gates import GATES
from pc_release.policy.preflight import PREFLIGHT_GATE, preflight_gate, preflight_not_run
from pc_release.resources.files import CANDIDATE_FILE, ReleaseFilesResource
from pc_release.resources.gitlab import GitLabResource

COMMITS_SHOWN = 50
FILES_SHOWN = 200


class PlannedGate(Record):
    """One gate of the promotion job, and what the plan could tell about it in advance."""

    name: str
    asset: str
    blocking: bool
    description: str
    outcome: str
    reason: str = ""


class FileChange(Record):
    status: str
    path: str


class PromotionPlan(Record):
    request: PromotionRequest
    sha: str
    commit: CommitInfo
    master_sha: str
    release_sha: str | None
    on_master: bool
    commits_to_ship: int
    commits_to_ship_shown: list[CommitInfo] = Field(default_factory=list)
    commits_dropped: int
    commits_dropped_shown: list[CommitInfo] = Field(default_factory=list)
    files_changed: int
    files_shown: list[FileChange] = Field(default_factory=list)
    gates: list[PlannedGate]
    pipeline_variables: dict[str, str]
    actions: list[str]
    refusals: list[Verdict]

    @property
    def would_proceed(self) -> bool:
        return not self.refusals


def _preflight_note(request: PromotionRequest) -> tuple[Verdict | None, str]:
    """The plan never runs the preflight (it executes test suites); it states how its result will be treated."""
    report = preflight_not_run(request)
    if report.status == "skipped":
        return preflight_gate(report, request), ""
    if request.require_local_preflight:
        return None, "blocking: PLATFORM_CONTROL_REQUIRE_LOCAL_PREFLIGHT=true, a failure stops the promotion"
    return None, "advisory: a failure is reported and the promotion continues"


_PLANNED_OUTCOMES = {
    "passed": "would pass",
    "warning": "would warn",
    "failed": "would refuse",
    "not_applicable": "would not be evaluated",
    "not_evaluated": "would not be evaluated",
}


def _gates(verdicts: dict[str, Verdict], notes: dict[str, str]) -> list[PlannedGate]:
    """Every gate of the registry, in lineage order: those the plan evaluates with its verdict, the others as
    evaluated during the promotion (with a note on how, where the plan knows)."""
    gates = []
    for gate in GATES:
        verdict = verdicts.get(gate.name)
        if verdict is None:
            outcome, reason = "evaluated during the promotion", notes.get(gate.name, "")
        else:
            outcome, reason = _PLANNED_OUTCOMES[verdict.status], verdict.reason
        gates.append(
            PlannedGate(
                name=gate.name,
                asset=gate.asset,
                blocking=gate.blocking,
                description=gate.description,
                outcome=outcome,
                reason=reason,
            )
        )
    return gates


def build_plan(
    request: PromotionRequest,
    reads: GitReads,
    gitlab: GitLabResource,
    dist_dir: str,
    instance: dg.DagsterInstance,
    last: LastPromotion | None,
) -> PromotionPlan:
    clone = reads.clone
    verdicts: list[Verdict] = []
    if request.dev_test:
        verdicts.append(rules.dev_test_clean_tree(clone.dirty_paths()))
    reads.fetch()
    sha = clone.resolve(request.source_ref)
    master_sha, release_sha = reads.tips()
    on_master = reads.is_ancestor(sha, clone.master_ref)
    base = release_sha or sha
    dropped, to_ship = reads.left_right(base, sha)
    release_only = reads.log(f"{clone.master_ref}..{release_sha}", COMMITS_SHOWN) if release_sha else []
    previous = previous_release(instance, ReleaseFilesResource(dist_dir=dist_dir), sha, release_sha)
    source = SourceCommit(
        request=request,
        sha=sha,
        commit=reads.commits(sha)[sha],
        on_master=on_master,
        master_sha=master_sha or "",
        release_sha=release_sha,
        previous_release_sha=previous.sha,
        previous_release_source=previous.source,
        release_only_commits=release_only,
    )
    changes = reads.diff(base, sha)
    pipeline = gitlab.master_pipeline_for(sha)
    preflight, preflight_note = _preflight_note(request)
    verdicts += [
        rules.reachable_from_master(sha, on_master, request),
        rules.release_branch_divergence(release_only, request, clone.release_branch, dev_test_tip(last, release_sha)),
        rules.master_ci_green_on_exact_sha(sha, pipeline, gitlab.master_branch, request),
        token_gate(gitlab),
        *([preflight] if preflight else []),
        web_fast_verdict(source, reads, [path for _, path in changes]),
    ]
    variables = rules.pipeline_variables(request, request_id(source))
    push = (
        f"leave {clone.release_branch} at {sha}: it already points there"
        if release_sha == sha
        else f"force-update {clone.release_branch} from {release_sha or '(absent)'} to {sha}, with a lease on "
        f"{release_sha or 'its absence'}"
    )
    keep = []
    if release_only and release_sha and not reads.is_ancestor(release_sha, sha):
        keep = [
            f"keep {release_sha} under {rules.KEPT_REFS}/<utc time>-{release_sha} before the push, so the "
            f"release-only commits {clone.release_branch} moves off stay reachable"
        ]
    actions = [
        *keep,
        push,
        f"write {dist_dir}/{CANDIDATE_FILE} for {sha} ({request.kind}, mode {request.mode}, profile {request.profile})",
        f"create a {clone.release_branch} pipeline with "
        + ", ".join(f"{k}={v}" for k, v in variables.items())
        + " (or reuse the pipeline an earlier attempt of this same request created)",
    ]
    return PromotionPlan(
        request=request,
        sha=sha,
        commit=source.commit,
        master_sha=source.master_sha,
        release_sha=release_sha,
        on_master=on_master,
        commits_to_ship=to_ship,
        commits_to_ship_shown=reads.log(f"{base}..{sha}", COMMITS_SHOWN) if to_ship else [],
        commits_dropped=dropped,
        commits_dropped_shown=reads.log(f"{sha}..{base}", COMMITS_SHOWN) if dropped else [],
        files_changed=len(changes),
        files_shown=[FileChange(status=status, path=path) for status, path in changes[:FILES_SHOWN]],
        gates=_gates({v.rule: v for v in verdicts}, {PREFLIGHT_GATE: preflight_note}),
        pipeline_variables=variables,
        actions=actions,
        refusals=[v for v in verdicts if not v.ok],
    )


def render_plan(plan: PromotionPlan) -> str:
    """The plan as the Dagster UI shows it (Markdown)."""
    request = plan.request
    lines = [
        f"## Promotion plan: {request.kind} of `{request.source_ref}` -> `{plan.sha}`",
        "",
        f"**{'Would proceed' if plan.would_proceed else 'Would be refused'}** (dry run: nothing was pushed, "
        "written or triggered).",
        "",
        f"- candidate: `{plan.sha}` {plan.commit.author}: {plan.commit.subject}",
        f"- current release: `{plan.release_sha or '(absent)'}`; master: `{plan.master_sha}`; on master: "
        f"{plan.on_master}",
        f"- mode `{request.mode}`, profile `{request.profile}`",
        f"- commits to ship: {plan.commits_to_ship}; commits on the release branch it would drop: "
        f"{plan.commits_dropped}; files changed: {plan.files_changed}",
    ]
    if plan.refusals:
        lines += ["", "### Refused by", ""]
        lines += [f"- `{v.rule}`: {v.reason}" for v in plan.refusals]
    lines += ["", "### Gates", "", "| gate | asset | blocking | outcome | reason |", "|---|---|---|---|---|"]
    lines += [
        f"| `{g.name}` | {g.asset} | {g.blocking} | {g.outcome} | {g.reason.replace('|', '/')} |" for g in plan.gates
    ]
    lines += ["", "### Actions", ""] + [f"1. {action}" for action in plan.actions]
    lines += ["", "### Pipeline variables", "", "```"] + [f"{k}={v}" for k, v in plan.pipeline_variables.items()]
    lines += ["```", "", f"### Commits to ship ({plan.commits_to_ship})", ""]
    lines += [f"- `{c.sha[:12]}` {c.author}: {c.subject}" for c in plan.commits_to_ship_shown]
    if plan.commits_dropped_shown:
        lines += ["", f"### Release-branch commits it would drop ({plan.commits_dropped})", ""]
        lines += [f"- `{c.sha[:12]}` {c.author}: {c.subject}" for c in plan.commits_dropped_shown]
    lines += ["", f"### Files ({plan.files_changed})", ""] + [f"- {f.status} `{f.path}`" for f in plan.files_shown]
    return "\n".join(lines)
