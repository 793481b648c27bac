"""The gate registry: every gate a promotion (promote_release, dev_test_deploy) evaluates, declared once.

Each gate's name is the constant beside its rule; here it gets the asset it guards, whether it blocks, what it
checks, the operator-checklist item it proves, and whether the dry-run plan evaluates it before the promotion.
The Dagster check specs, the promotion jobs' selection, the dry-run plan's gate table, the release record's gate
table and checklist, and the README's gate table are all derived from GATES. To add or rename a gate: write its
rule (and name constant) in policy/, add one line here, and compute it where its asset (or its check) runs.
"""

from __future__ import annotations

from typing import Literal

from pc_release.models import Record
from pc_release.policy import promotion, readiness
from pc_release.policy.audit import DEV_TEST
from pc_release.policy.preflight import KIND_PARITY, PLAYWRIGHT_E2E, PREFLIGHT_GATE, ROLE_AUTHZ_SMOKE
from pc_release.policy.web_fast import RULE as WEB_FAST_ELIGIBLE

# The promotion lineage, in the order a promotion meets it; both promotion jobs select exactly these assets.
PROMOTION_ASSETS = (
    "source_commit",
    "master_ci",
    "local_preflight",
    "release_readiness",
    "release_branch",
    "release_candidate",
    "release_pipeline",
)

# The policy's operator checklist ("Operator checklist before release"), in its order.
ON_MASTER = "Intended fix is on master"
EXACT_SHA = "Exact-SHA promotion (candidate env, release branch and source are one SHA)"
CI_GREEN = "CI green on the exact SHA being promoted"
PREFLIGHT_REVIEWED = "Local preflight run and reviewed"
NO_RELEASE_ONLY_EDITS = "No manual release-only edits pending"
GENERATED_COMMITTED = "Generated artifacts required by CI are committed"
RUNTIME_FILES_PRESENT = "Bootstrap/config/runtime files present on the promoted SHA"
CHECKLIST = (
    ON_MASTER,
    EXACT_SHA,
    CI_GREEN,
    PREFLIGHT_REVIEWED,
    NO_RELEASE_ONLY_EDITS,
    GENERATED_COMMITTED,
    RUNTIME_FILES_PRESENT,
)


class Gate(Record):
    """One gate of the promotion."""

    name: str
    asset: str
    blocking: bool
    description: str
    # "asset": computed by the asset it guards (one of its check_specs); "check": its own asset check step.
    computed_by: Literal["asset", "check"] = "asset"
    checklist: str | None = None
    planned: bool = False


_READINESS_CHECKLIST = {
    readiness.GENERATED_ARTIFACTS_FRESH: GENERATED_COMMITTED,
    readiness.RUNTIME_FILES_PRESENT: RUNTIME_FILES_PRESENT,
    readiness.RUNTIME_CONFIG_KEYS_PRESENT: RUNTIME_FILES_PRESENT,
    readiness.RELEASE_WORKTREE_CLEAN: NO_RELEASE_ONLY_EDITS,
}

GATES: tuple[Gate, ...] = (
    Gate(
        name=promotion.REACHABLE_FROM_MASTER,
        asset="source_commit",
        blocking=True,
        description="The SHA is already integrated in master.",
        checklist=ON_MASTER,
        planned=True,
    ),
    Gate(
        name=promotion.RELEASE_BRANCH_GUARD,
        asset="source_commit",
        blocking=True,
        description="The release branch has no commits that master lacks (they would be dropped silently).",
        checklist=NO_RELEASE_ONLY_EDITS,
        planned=True,
    ),
    Gate(
        name=WEB_FAST_ELIGIBLE,
        asset="source_commit",
        blocking=True,
        description="PLATFORM_CONTROL_RELEASE_PROFILE=web-fast only when every path changed since the released SHA "
        "is under the release config's web_only_paths.",
        computed_by="check",
        planned=True,
    ),
    Gate(
        name=promotion.FAILED_SHA_RETRY,
        asset="source_commit",
        blocking=True,
        description="Do not retry a SHA whose last release pipeline failed, unless the operator states the failure "
        "was transient infrastructure (transient_retry_reason, recorded).",
        computed_by="check",
    ),
    Gate(
        name=promotion.MASTER_CI_GREEN,
        asset="master_ci",
        blocking=True,
        description="Green master CI on the exact SHA: the primary gate.",
        checklist=CI_GREEN,
        planned=True,
    ),
    Gate(
        name=promotion.CAN_TRIGGER_PIPELINE,
        asset="master_ci",
        blocking=True,
        description="The token may run pipelines on the release branch (Developer or more, and allowed to push or "
        "merge there when the branch is protected), so a push is never left without its release pipeline.",
        planned=True,
    ),
    Gate(
        name=PREFLIGHT_GATE,
        asset="local_preflight",
        blocking=True,
        description="Advisory by default; blocks only under PLATFORM_CONTROL_REQUIRE_LOCAL_PREFLIGHT=true.",
        checklist=PREFLIGHT_REVIEWED,
    ),
    Gate(
        name=PLAYWRIGHT_E2E,
        asset="local_preflight",
        blocking=False,
        description="The frontend's full Playwright e2e suite (admin route guard, platform roles, audit log).",
    ),
    Gate(
        name=ROLE_AUTHZ_SMOKE,
        asset="local_preflight",
        blocking=False,
        description="Platform-role bind/list/revoke authz and the admin audit-log read path.",
    ),
    Gate(
        name=KIND_PARITY,
        asset="local_preflight",
        blocking=False,
        description="The kind overlay (and, with a kube context, the live kind cluster) mirrors platform-control.",
    ),
    *(
        Gate(
            name=name,
            asset="release_readiness",
            blocking=True,
            description=description,
            checklist=_READINESS_CHECKLIST.get(name),
        )
        for name, description in readiness.READINESS_CHECKS.items()
    ),
    Gate(
        name=promotion.CANDIDATE_MATCHES,
        asset="release_candidate",
        blocking=True,
        description="The candidate env's SHA, the remote release branch and the resolved source SHA are one SHA.",
        checklist=EXACT_SHA,
    ),
    Gate(
        name=DEV_TEST,
        asset="release_pipeline",
        blocking=False,
        description="A dev-test deploy is not a release: merge fast-forward to master, promote that exact SHA, "
        "deploy standard.",
        computed_by="check",
    ),
)
BY_NAME = {gate.name: gate for gate in GATES}


def gate(name: str) -> Gate:
    return BY_NAME[name]


def gates_on(asset: str, computed_by: Literal["asset", "check"] = "asset") -> list[Gate]:
    """The gates an asset computes itself (or, with computed_by="check", those run as its own check steps)."""
    return [g for g in GATES if g.asset == asset and g.computed_by == computed_by]


def checklist_gates() -> dict[str, list[str]]:
    """Each checklist item and the gates that can prove it, in the checklist's order."""
    return {item: [g.name for g in GATES if g.checklist == item] for item in CHECKLIST}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_table() -> str:
    """The README's gate table (Markdown), one row per gate in lineage order."""
    lines = [
        "| gate | asset | blocking | checks | operator checklist | dry-run plan |",
        "|---|---|---|---|---|---|",
    ]
    for g in GATES:
        lines.append(
            f"| `{g.name}` | `{g.asset}` | {'yes' if g.blocking else 'no'} | {_cell(g.description)} "
            f"| {g.checklist or ''} | {'evaluated' if g.planned else 'during the promotion'} |"
        )
    return "\n".join(lines)
