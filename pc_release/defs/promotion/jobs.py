"""promote_release and dev_test_deploy: the same lineage, two explicit entry points."""

from __future__ import annotations

import dagster as dg

from pc_release.defs.promotion.assets import GROUP
from pc_release.defs.promotion.config import DEV_TEST_JOB, PROMOTE_JOB, PROMOTION_TAG

__all__ = ["PROMOTION_TAG", "dev_test_deploy_job", "promote_release_job"]

# A run the daemon or the UI launches executes each step in a process of its own. Spawned, each step process
# imports Dagster and pc-release again (seconds per step, a promotion has a dozen); forked from a server that
# imported the code location once, it starts in a fraction of that. The forkserver itself is started fresh
# (not forked from the run worker and its threads). `pc-release promote` runs in process and is unaffected.
STEP_PROCESSES = dg.multiprocess_executor.configured({"start_method": {"forkserver": {}}}, name="multiprocess")

promote_release_job = dg.define_asset_job(
    PROMOTE_JOB,
    selection=dg.AssetSelection.groups(GROUP),
    tags={PROMOTION_TAG: "release"},
    executor_def=STEP_PROCESSES,
    description="Promote one exact SHA already on master to release/platform-control and trigger its pipeline.",
)

dev_test_deploy_job = dg.define_asset_job(
    DEV_TEST_JOB,
    selection=dg.AssetSelection.groups(GROUP),
    tags={PROMOTION_TAG: "dev-test"},
    executor_def=STEP_PROCESSES,
    description="The policy's bounded dev-test bypass: clean tree, SHA may be outside master, deploy mode, "
    "recorded as not a release.",
)
