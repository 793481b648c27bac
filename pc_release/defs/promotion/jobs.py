"""promote_release and dev_test_deploy: the same lineage, two explicit entry points.

Both select the promotion lineage by name (policy/gates.py PROMOTION_ASSETS) and with it every check on those assets,
not a group: an asset joining the `promotion` group from another domain does not join the promotion by accident.
"""

from __future__ import annotations

import importlib.util

import dagster as dg

from pc_release.defs.promotion.config import DEV_TEST_JOB, PROMOTE_JOB, PROMOTION_TAG, launchpad_defaults
from pc_release.policy.gates import PROMOTION_ASSETS
from pc_release.resources.policy import ReleasePolicyResource

__all__ = ["PROMOTION_TAG", "promotion_jobs"]


# A run the daemon or the UI launches executes each step in a process of its own. Spawned, each step process
# imports Dagster and pc-release again (seconds per step, a promotion has a dozen); forked from a server that
# imported them once, it starts in a fraction of that. The forkserver itself is started fresh (not forked from
# the run worker and its threads). By default Dagster preloads only the code location's module in it; the
# libraries pc-release imports lazily (P3 in bench/README.md) were then imported again by every step process that
# used them: dagster_postgres (the instance's storage, about 1.3 s), python-gitlab (about 0.3 s) and GitPython.
# Naming the modules replaces that default, so the code location is listed first; a library that is not
# installed is left out rather than failing the run. `pc-release promote` runs in process and is unaffected.
FORKSERVER_PRELOAD = [
    module
    for module in ("pc_release.definitions", "dagster_postgres", "gitlab", "git")
    if importlib.util.find_spec(module) is not None
]
STEP_PROCESSES = dg.multiprocess_executor.configured(
    {"start_method": {"forkserver": {"preload_modules": FORKSERVER_PRELOAD}}}, name="multiprocess"
)


PROMOTE_DESCRIPTION = (
    "Release: promote one exact SHA that is already on master to release/platform-control, after green master CI on "
    "that SHA, the local preflight (advisory unless required) and the readiness checks; then write the release "
    "candidate and trigger its release pipeline, which release_pipeline_sensor follows to the release record."
)
DEV_TEST_DESCRIPTION = (
    "NOT a release. The policy's bounded dev-test bypass, for a change that can only be validated on "
    "platform-control hardware: requires a clean working tree, lets the SHA be outside master, skips the local "
    "preflight unless required, force-promotes it and triggers a deploy-mode pipeline with "
    "PLATFORM_CONTROL_ALLOW_RELEASE_BRANCH_DIVERGENCE=true and PLATFORM_CONTROL_DEV_TEST_DEPLOY=true. It does not "
    "replace CI on master, never marks the change released, and the drift audit flags it until the normal "
    "promote_release of a merged SHA follows."
)


def promotion_jobs(policy: ReleasePolicyResource) -> list[dg.UnresolvedAssetJobDefinition]:
    """Built with the code location: the Launchpad opens with the defaults the policy's variables put in force."""
    return [
        _promotion_job(PROMOTE_JOB, "release", PROMOTE_DESCRIPTION, policy, dev_test=False),
        _promotion_job(DEV_TEST_JOB, "dev-test", DEV_TEST_DESCRIPTION, policy, dev_test=True),
    ]


def _promotion_job(
    name: str, kind: str, description: str, policy: ReleasePolicyResource, *, dev_test: bool
) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        name,
        selection=dg.AssetSelection.assets(*PROMOTION_ASSETS),
        tags={PROMOTION_TAG: kind},
        config=launchpad_defaults(policy, dev_test=dev_test),
        executor_def=STEP_PROCESSES,
        description=description,
    )
