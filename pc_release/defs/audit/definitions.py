"""Dagster definitions of the audit domain."""

import dagster as dg

from pc_release.defs.audit.assets import promotion_plan, release_drift, release_state
from pc_release.defs.audit.checks import dev_test_follow_up_check, web_fast_eligible_check
from pc_release.defs.audit.jobs import drift_audit_job, plan_promotion_job
from pc_release.defs.audit.schedules import drift_audit_schedule_for
from pc_release.defs.audit.sensors import release_state_sensor
from pc_release.settings import Settings

defs = dg.Definitions(
    assets=[release_drift, promotion_plan, release_state],
    asset_checks=[web_fast_eligible_check, dev_test_follow_up_check],
    jobs=[drift_audit_job, plan_promotion_job],
    sensors=[release_state_sensor],
)


def configured_defs(settings: Settings) -> dg.Definitions:
    """The part whose shape depends on settings: built with the code location, not at import."""
    return dg.Definitions(schedules=[drift_audit_schedule_for(settings.drift_audit_cron)])
