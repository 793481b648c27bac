"""local_preflight: records whether the local preflight ran, was skipped, and whether it may block."""

import dagster as dg

from pc_release.defs.promotion.assets import GROUP, check_result
from pc_release.models import SourceCommit
from pc_release.policy.preflight import preflight_gate, preflight_not_run


@dg.asset(
    group_name=GROUP,
    deps=["master_ci"],
    kinds={"python"},
    check_specs=[
        dg.AssetCheckSpec(
            "local_preflight_gate",
            asset="local_preflight",
            blocking=True,
            description="Advisory by default; blocks only under PLATFORM_CONTROL_REQUIRE_LOCAL_PREFLIGHT=true.",
        )
    ],
)
def local_preflight(context: dg.AssetExecutionContext, source_commit: SourceCommit):
    """The local preflight's outcome for this promotion."""
    report = preflight_not_run(source_commit.request)
    verdict = preflight_gate(report, source_commit.request)
    context.log.info(f"local preflight: {report.status} ({report.reason})")
    return dg.MaterializeResult(
        value=report,
        metadata={"status": report.status, "reason": report.reason, "blocking": report.blocking},
        check_results=[check_result(verdict, "local_preflight")],
    )
