"""Dagster definitions of the release-readiness domain."""

import dagster as dg

from pc_release.defs.readiness.assets import release_readiness

defs = dg.Definitions(assets=[release_readiness])
