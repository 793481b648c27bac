"""The writing assets' own gate: the release branch, the candidate env and the release pipeline are written only by
a promotion run (promote_release or dev_test_deploy) from values and gate results that same run produced.

Dagster lets anyone materialize any asset: the UI's "Materialize" on `release_branch`, or "Materialize all", runs an
ad-hoc asset job that loads upstream values from other runs and is outside the one-promotion run queue. Blocking
checks only stop steps of the run they ran in, so the writing assets check for themselves, in the event log.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from pc_release.defs.promotion.config import DEV_TEST_JOB, PROMOTE_JOB, PROMOTION_TAG
from pc_release.defs.verdicts import plain_metadata
from pc_release.errors import PromotionBlocked

PROMOTION_JOBS = (PROMOTE_JOB, DEV_TEST_JOB)
RULE_JOB = "promotion-job-only"
RULE_SAME_RUN = "gates-in-this-run"


def _run_events(
    instance: dg.DagsterInstance, run_id: str
) -> tuple[dict[str, dict[str, object]], dict[dg.AssetCheckKey, dg.AssetCheckEvaluation]]:
    """This run's materializations (metadata by asset) and check evaluations, in one read of its event log."""
    materialized: dict[str, dict[str, object]] = {}
    evaluations: dict[dg.AssetCheckKey, dg.AssetCheckEvaluation] = {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.step_materialization_data.materialization
            materialized[materialization.asset_key.to_user_string()] = plain_metadata(materialization.metadata)
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluations[event.event_specific_data.asset_check_key] = event.event_specific_data
    return materialized, evaluations


def require_promotion_run(context: dg.AssetExecutionContext, sha: str, upstream: Iterable[str]) -> None:
    """Refuse unless this is a promotion run in which every upstream asset was materialized for `sha` and every
    blocking gate on those assets was evaluated and did not fail."""
    asset = context.asset_key.to_user_string()
    job = context.job_def.name
    if job not in PROMOTION_JOBS or PROMOTION_TAG not in context.run.tags:
        raise PromotionBlocked(
            f"{asset} is written only by a {' or '.join(PROMOTION_JOBS)} run, which evaluates every gate first and "
            f"takes the one-promotion slot; this run is {job!r} (an ad-hoc materialization). Launch promote_release "
            "instead",
            rule=RULE_JOB,
        )
    upstream = list(upstream)
    materialized, evaluations = _run_events(context.instance, context.run.run_id)
    missing = [name for name in upstream if name not in materialized]
    if missing:
        raise PromotionBlocked(
            f"{asset} needs {', '.join(missing)} materialized in this run (run {context.run.run_id}), not values "
            "left by another run; launch a whole promotion instead of re-executing part of one",
            rule=RULE_SAME_RUN,
        )
    other = {name: materialized[name]["sha"] for name in upstream if materialized[name].get("sha") not in (None, sha)}
    if other:
        raise PromotionBlocked(
            f"{asset} would write {sha}, but this run materialized "
            + ", ".join(f"{name} for {value}" for name, value in other.items()),
            rule=RULE_SAME_RUN,
        )
    graph = context.job_def.asset_layer.asset_graph
    gates = [
        key
        for key in graph.get_check_keys_for_assets({dg.AssetKey(name) for name in upstream})
        if graph.get(key).blocking
    ]
    unevaluated = sorted(key.name for key in gates if key not in evaluations)
    failed = sorted(
        key.name
        for key in gates
        if key in evaluations
        and not evaluations[key].passed
        and evaluations[key].severity != dg.AssetCheckSeverity.WARN
    )
    if unevaluated or failed:
        problems = [f"not evaluated in this run: {', '.join(unevaluated)}"] if unevaluated else []
        problems += [f"failed: {', '.join(failed)}"] if failed else []
        raise PromotionBlocked(f"{asset} refuses to write {sha}: gates {'; '.join(problems)}", rule=RULE_SAME_RUN)
