"""A refusal in a promotion run reads as one: a `dg.Failure` naming the rule, its reason and its evidence (no
wrapped crash), and the rule and reason as run tags, so the Runs list says why a run stopped.

Two ways a run is refused: a step raises one of the policy's refusals (bad input, a broken release config, a lost
lease), which `refusals_as_failures` turns into a `dg.Failure`; or a blocking gate fails, which Dagster reports as
the step failing. `refusal_hook` sees both on the failed step and tags the run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
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


def refuse(
    context: dg.AssetExecutionContext, err: PcReleaseError, evidence: Mapping[str, Any] | None = None
) -> NoReturn:
    """Stop this step as refused by `err.rule`: a Failure with the rule, the reason and the evidence, no retry."""
    tag_refusal(context.instance, context.run.run_id, err.rule, err.detail)
    raise dg.Failure(
        description=str(err),
        metadata={"rule": err.rule, "reason": err.detail, **(evidence or {})},
        allow_retries=False,
    ) from None


def refusals_as_failures(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an asset function whose first parameter is its context: its refusals become `refuse(...)`."""

    @functools.wraps(fn)
    def wrapper(context: dg.AssetExecutionContext, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(context, *args, **kwargs)
        except REFUSALS as err:
            refuse(context, err)

    return wrapper


def _failed_gates(instance: dg.DagsterInstance, run_id: str, step_key: str) -> list[dg.AssetCheckEvaluation]:
    """The blocking gates that failed in `step_key` of the run, as its event log recorded them."""
    failed = []
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        event = record.dagster_event
        evaluation = event.event_specific_data if event else None
        if (
            event is not None
            and event.step_key == step_key
            and not evaluation.passed
            and evaluation.severity == dg.AssetCheckSeverity.ERROR
            and evaluation.blocking
        ):
            failed.append(evaluation)
    return failed


@dg.failure_hook(name="refusal_hook")
def refusal_hook(context: dg.HookContext) -> None:
    """Tag the run with the rule and reason that stopped the failed step, when a rule stopped it."""
    error = context.op_exception
    if isinstance(error, dg.Failure) and "rule" in error.metadata:
        rule, reason = error.metadata["rule"].value, error.metadata["reason"].value
        tag_refusal(context.instance, context.run_id, str(rule), str(reason))
        return
    gates = _failed_gates(context.instance, context.run_id, context.step_key)
    if gates:
        rule = ", ".join(gate.check_name for gate in gates)
        reason = "; ".join(f"{gate.check_name}: {gate.description or 'failed'}" for gate in gates)
        tag_refusal(context.instance, context.run_id, rule, reason)
