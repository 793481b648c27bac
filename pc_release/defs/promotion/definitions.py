"""Dagster definitions of the promotion domain."""

import dagster as dg

from pc_release.defs.promotion.assets import (
    master_ci,
    release_branch,
    release_candidate,
    release_pipeline,
    source_commit,
)
from pc_release.defs.promotion.jobs import promotion_jobs
from pc_release.resources.policy import ReleasePolicyResource
from pc_release.settings import Settings

defs = dg.Definitions(
    assets=[source_commit, master_ci, release_branch, release_candidate, release_pipeline],
)


def configured_defs(settings: Settings) -> dg.Definitions:
    """Built with the code location: the promotion jobs' Launchpad defaults are the policy variables in force."""
    return dg.Definitions(jobs=promotion_jobs(ReleasePolicyResource.from_settings(settings)))
