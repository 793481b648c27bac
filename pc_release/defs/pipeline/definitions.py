"""Dagster definitions of the release pipeline domain."""

import dagster as dg

from pc_release.defs.pipeline.assets import PIPELINE_ASSETS
from pc_release.defs.pipeline.checks import failed_sha_retry, recheck_release_pipeline
from pc_release.defs.pipeline.sensors import release_pipeline_sensor_for
from pc_release.settings import Settings

defs = dg.Definitions(
    assets=list(PIPELINE_ASSETS),
    asset_checks=[failed_sha_retry, recheck_release_pipeline],
)


def configured_defs(settings: Settings) -> dg.Definitions:
    """Built with the code location: release_pipeline_sensor ticks at most every
    PC_RELEASE_RELEASE_PIPELINE_SENSOR_INTERVAL_SECONDS."""
    return dg.Definitions(sensors=[release_pipeline_sensor_for(settings.release_pipeline_sensor_interval_seconds)])
