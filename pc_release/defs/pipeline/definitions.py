"""Dagster definitions of the release pipeline domain."""

import dagster as dg

from pc_release.defs.pipeline.assets import PIPELINE_ASSETS
from pc_release.defs.pipeline.checks import failed_sha_retry, recheck_release_pipeline
from pc_release.defs.pipeline.sensors import release_pipeline_sensor

defs = dg.Definitions(
    assets=list(PIPELINE_ASSETS),
    asset_checks=[failed_sha_retry, recheck_release_pipeline],
    sensors=[release_pipeline_sensor],
)
