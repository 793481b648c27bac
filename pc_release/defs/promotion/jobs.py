"""promote_release and dev_test_deploy: the same lineage, two explicit entry points.

Both select the promotion lineage by name (policy/gates.py PROMOTION_ASSETS) and with it every check on those assets,
not a group: an asset joining the `promotion` group from another domain does not join the promotion by accident.
"""

from __future__ import annotations

import dagster as dg

from pc_release.defs.promotion.config import DEV_TEST_JOB, PROMOTE_JOB, PROMOTION_TAG
from pc_release.policy.gates import PROMOTION_ASSETS

__all__ = ["PROMOTION_TAG", "dev_test_deploy_job", "promote_release_job"]

promote_release_job = dg.define_asset_job(
    PROMOTE_JOB,
    selection=dg.AssetSelection.assets(*PROMOTION_ASSETS),
    tags={PROMOTION_TAG: "release"},
    description="Promote one exact SHA already on master to release/platform-control and trigger its pipeline.",
)

dev_test_deploy_job = dg.define_asset_job(
    DEV_TEST_JOB,
    selection=dg.AssetSelection.assets(*PROMOTION_ASSETS),
    tags={PROMOTION_TAG: "dev-test"},
    description="The policy's bounded dev-test bypass: clean tree, SHA may be outside master, deploy mode, "
    "recorded as not a release.",
)
