"""release_readiness: the candidate SHA checked for the policy's common release failure classes before release_branch,
so a doomed release is never pushed. It is the local preflight's sibling, not its successor: neither reads the
other, so a multiprocess run executes them side by side and the push waits for both."""

import dagster as dg

from pc_release.defs.gates import check_specs
from pc_release.defs.promotion.assets import GROUP, request_id
from pc_release.defs.promotion.refusal import refusals_as_failures
from pc_release.defs.readiness.resources import ReadinessResource
from pc_release.defs.verdicts import check_result, shown_as
from pc_release.models import MasterCi
from pc_release.policy import promotion as promotion_rules
from pc_release.readiness.evaluate import ReadinessInputs, evaluate
from pc_release.resources.commands import CommandRunnerResource
from pc_release.resources.git import GitResource
from pc_release.resources.gitlab import GitLabResource

ASSET = "release_readiness"


@dg.asset(
    group_name=GROUP,
    kinds={"git", "postgres"},
    check_specs=check_specs(ASSET),
)
@refusals_as_failures
def release_readiness(
    context: dg.AssetExecutionContext,
    # After the primary gate, like the local preflight: a SHA whose master CI is red is not worth a database.
    master_ci: MasterCi,
    git: GitResource,
    gitlab: GitLabResource,
    commands: CommandRunnerResource,
    readiness: ReadinessResource,
):
    """What the release pipeline would trip over at this SHA: runtime matrix vs publish jobs and digest fan-in,
    OCI labels, schema and seed on a real PostgreSQL, generated artifacts, runtime files and config keys,
    pending release-only edits, canonical remotes."""
    source_commit = master_ci.source
    report = evaluate(
        ReadinessInputs(
            repo=git.clone().path,
            source=source_commit,
            release_branch=git.release_branch,
            master_branch=git.master_branch,
            pipeline_variables=promotion_rules.pipeline_variables(source_commit.request, request_id(source_commit)),
            commands=commands,
            postgres_url=readiness.postgres_url,
            release_worktree=readiness.release_worktree,
            canonical_remotes=tuple(readiness.canonical_remotes),
            ci_lint=gitlab.ci_lint,
        )
    )
    # Each check's reason is in its own check result; the log names only what needs a reader's attention.
    # (Every log line is one more event-log write in Dagster's storage: 13 lines cost a promotion ~90 ms.)
    flagged = [verdict for verdict in report.verdicts if not verdict.ok or verdict.warning]
    passed = sum(1 for verdict in report.verdicts if verdict.status == "passed")
    vacuous = sum(1 for verdict in report.verdicts if verdict.status == "not_applicable")
    summary = f"{passed}/{len(report.verdicts)} readiness checks passed at {report.sha[:12]} ({vacuous} not applicable)"
    if flagged:
        details = "; ".join(f"{v.rule} {'warns' if v.ok else 'BLOCKS'}: {v.reason}" for v in flagged)
        context.log.warning(f"{summary}; {details}")
    else:
        context.log.info(summary)
    table = "\n".join(
        f"| {v.rule} | {'BLOCK' if v.status == 'failed' else shown_as(v.status)} "
        f"| {v.reason.replace('|', '/').splitlines()[0][:200]} |"
        for v in report.verdicts
    )
    return dg.MaterializeResult(
        value=report,
        metadata={
            "sha": report.sha,
            "released_sha": report.released_sha or "(none)",
            "blockers": dg.MetadataValue.json([verdict.rule for verdict in report.blockers]),
            "checks": dg.MetadataValue.md(f"| check | outcome | reason |\n|---|---|---|\n{table}"),
        },
        check_results=[check_result(verdict, ASSET) for verdict in report.verdicts],
    )
