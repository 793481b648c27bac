"""Dagster definitions of the automation domain."""

import dagster as dg

from pc_release.defs.automation.sensors import master_ci_sensor_for
from pc_release.settings import Settings


def configured_defs(settings: Settings) -> dg.Definitions:
    """Built with the code location: whether master_ci_sensor starts running depends on PC_RELEASE_AUTO_PROMOTION,
    how often it ticks on PC_RELEASE_MASTER_CI_SENSOR_INTERVAL_SECONDS."""
    return dg.Definitions(
        sensors=[master_ci_sensor_for(settings.auto_promotion, settings.master_ci_sensor_interval_seconds)]
    )
