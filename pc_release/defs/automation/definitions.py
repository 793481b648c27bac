"""Dagster definitions of the automation domain."""

import dagster as dg

from pc_release.defs.automation.sensors import master_ci_sensor

defs = dg.Definitions(sensors=[master_ci_sensor])
