"""Dagster definitions of the local preflight domain."""

import dagster as dg

from pc_release.defs.preflight.assets import local_preflight

defs = dg.Definitions(assets=[local_preflight])
