"""A refusal in a promotion run reads as one: a `dg.Failure` naming the rule, its reason and its evidence (no
wrapped crash), and the rule and reason as run tags, so the Runs list says why a run stopped.

Two ways a run is refused, both seen by `refusals_as_failures` around the step's function: it raises one of the
policy's refusals (bad input, a broken release config, a lost lease), which becomes a `dg.Failure`; or it reports a
blocking gate as failed, after which Dagster stops the run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NoReturn

import dagster as dg

from pc_release.errors import REFUSALS, PcReleaseError

REFUSED_RULE_TAG = "pc-release/refused-rule"
REFUSED_REASON_TAG = "pc-release/refused-reason"
# A run tag is a short string: the Runs list shows it on one line, the full reason is on the step's failure.
_TAG_LIMIT = 250


def _tag_value(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _TAG_LIMIT else line[: _TAG_LIMIT - 1] + "…"


def refusal_tags(rule: str, reason: str) -> dict[str, str]:
    return {REFUSED_RULE_TAG: rule, REFUSED_REASON_TAG: _tag_value(reason)}


def tag_refusal(instance: dg.DagsterInstance, run_id: str, rule: str, reason: str) -> None:
    """Tag the run with the first refusal it met; a second one (a sibling step) does not overwrite it."""
    run = instance.get_run_by_id(run_id)
    if run is not None and REFUSED_RULE_TAG not in run.tags:
        instance.add_run_tags(run_id, refusal_tags(rule, reason))


def refuse(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, err: PcReleaseError) -> NoReturn:
    """Stop this step as refused by `err.rule`: a Failure with the rule, the reason and the evidence, no retry."""
    tag_refusal(context.instance, context.run.run_id, err.rule, err.detail)
    evidence = {
        key: dg.MetadataValue.json(value) if isinstance(value, list | dict) else value
        for key, value in err.evidence.items()
    }
    raise dg.Failure(
        description=str(err),
        metadata={"rule": err.rule, "reason": err.detail, **evidence},
        allow_retries=False,
    ) from None


def refusals_as_failures(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an asset or asset check function whose first parameter is its context: its refusals become
    `refuse(...)`, and a blocking gate it reports as failed tags the run with the gate's rule and reason."""

    @functools.wraps(fn)
    def wrapper(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, *args: Any, **kwargs: Any) -> Any:
        try:
            result = fn(context, *args, **kwargs)
        except REFUSALS as err:
            refuse(context, err)
        _tag_failed_gates(context, result)
        return result

    return wrapper


def _tag_failed_gates(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, result: Any) -> None:
    """Dagster stops the run after a failed blocking check; the Runs list learns which gate and why from the tags."""
    checking = isinstance(context, dg.AssetCheckExecutionContext)
    specs = context.check_specs if checking else context.assets_def.check_specs
    blocking = {spec.name for spec in specs if spec.blocking}
    results = result.check_results if isinstance(result, dg.MaterializeResult) else [result]
    failed = [
        check
        for check in results
        if isinstance(check, dg.AssetCheckResult)
        and not check.passed
        and check.severity == dg.AssetCheckSeverity.ERROR
        and check.check_name in blocking
    ]
    if failed:
        rule = ", ".join(str(check.check_name) for check in failed)
        reason = "; ".join(f"{check.check_name}: {check.description or 'failed'}" for check in failed)
        tag_refusal(context.instance, context.run.run_id, rule, reason)
