"""drift_audit and plan_promotion: read-only jobs beside the promotion jobs."""

from __future__ import annotations

import dagster as dg

from pc_release.defs.promotion.jobs import PROMOTION_TAG

drift_audit_job = dg.define_asset_job(
    "drift_audit",
    selection=dg.AssetSelection.assets("release_drift"),
    # Queued with the promotions (the tag's limit is 1): an audit reading the branch between a promotion's push
    # and its record would report a drift that is not there, and two fetches in one clone contend for its refs.
    tags={PROMOTION_TAG: "audit"},
    description="Audit release/platform-control against master and the last recorded promotion.",
)

plan_promotion_job = dg.define_asset_job(
    "plan_promotion",
    selection=dg.AssetSelection.assets("promotion_plan"),
    description="Dry run of promote_release: SHAs, commits, files, gates, variables and refusals; "
    "pushes and triggers nothing.",
)
