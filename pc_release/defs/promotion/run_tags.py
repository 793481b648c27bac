"""The tags a promotion run carries, so the Runs list tells runs apart by what they promoted and who asked."""

from __future__ import annotations

import dagster as dg

from pc_release.models import PromotionRequest

SHA_TAG = "pc-release/sha"
SOURCE_REF_TAG = "pc-release/source-ref"
KIND_TAG = "pc-release/kind"
MODE_TAG = "pc-release/mode"
PROFILE_TAG = "pc-release/profile"
# Set by `pc-release` to the operator's login; a launch from the UI or a sensor says where it came from instead.
OPERATOR_TAG = "pc-release/operator"
# Dagster+ records the launching user here; open-source Dagster records no user for a Launchpad launch.
_DAGSTER_USER_TAG = "user"
_SENSOR_TAG = "dagster/sensor_name"
_SCHEDULE_TAG = "dagster/schedule_name"
_FROM_UI_TAG = "dagster/from_ui"


def operator_of(tags: dict[str, str]) -> str:
    """Who asked for the run: the CLI's operator, the Dagster+ user, the sensor or schedule, or the Dagster UI."""
    if tags.get(OPERATOR_TAG):
        return tags[OPERATOR_TAG]
    if tags.get(_DAGSTER_USER_TAG):
        return tags[_DAGSTER_USER_TAG]
    if tags.get(_SENSOR_TAG):
        return f"sensor {tags[_SENSOR_TAG]}"
    if tags.get(_SCHEDULE_TAG):
        return f"schedule {tags[_SCHEDULE_TAG]}"
    if tags.get(_FROM_UI_TAG) == "true":
        return "Dagster UI (no user recorded)"
    return "not recorded"


def tag_promotion(context: dg.AssetExecutionContext, request: PromotionRequest, sha: str | None) -> str:
    """Tag this run with the request (and its SHA once resolved); returns the operator it names."""
    operator = operator_of(dict(context.run.tags))
    tags = {
        SOURCE_REF_TAG: request.source_ref[:250],
        KIND_TAG: request.kind,
        MODE_TAG: request.mode,
        PROFILE_TAG: request.profile,
        OPERATOR_TAG: operator,
    }
    if sha:
        tags[SHA_TAG] = sha
    context.instance.add_run_tags(context.run.run_id, tags)
    return operator
