"""Dagster definitions of the promotion domain."""

import dagster as dg

from pc_release.defs.promotion.assets import (
    master_ci,
    release_branch,
    release_candidate,
    release_pipeline,
    source_commit,
)
from pc_release.defs.promotion.jobs import dev_test_deploy_job, promote_release_job

defs = dg.Definitions(
    assets=[source_commit, master_ci, release_branch, release_candidate, release_pipeline],
    jobs=[promote_release_job, dev_test_deploy_job],
)
