"""The release pipeline's stage assets. GitLab computes them; release_pipeline_sensor observes the pipeline and
reports each stage as a materialization when it finishes, so no Dagster run ever blocks on a pipeline."""

import dagster as dg

from pc_release.defs.pipeline.partitions import runtime_partitions
from pc_release.policy.pipeline.stages import STAGE_TITLES

GROUP = "pipeline"


def _stage(name: str, upstream: str, description: str, **kwargs) -> dg.AssetSpec:
    return dg.AssetSpec(
        name,
        deps=[upstream],
        group_name=GROUP,
        kinds={"gitlab"},
        description=f"{description} Reported by release_pipeline_sensor when the stage's jobs finish.",
        **kwargs,
    )


contracts = _stage("contracts", "release_pipeline", STAGE_TITLES["contracts"] + ".")
build_test = _stage("build_test", "contracts", STAGE_TITLES["build_test"] + ".")
package = _stage("package", "build_test", STAGE_TITLES["package"] + ".")
runtime_digest = _stage(
    "runtime_digest",
    "package",
    "One runtime's image digest, read from its publish job's dotenv artifact.",
    partitions_def=runtime_partitions,
)
digest_fan_in = _stage("digest_fan_in", "runtime_digest", STAGE_TITLES["digest_fan_in"] + ".")
deployment = _stage("deployment", "digest_fan_in", STAGE_TITLES["deployment"] + ".")
remote_validation = _stage("remote_validation", "deployment", STAGE_TITLES["remote_validation"] + ".")
release_record = dg.AssetSpec(
    "release_record",
    deps=["remote_validation"],
    group_name=GROUP,
    kinds={"json"},
    description="The handoff of one release pipeline: SHA, pipeline URL, mode, profile, kind, every gate, "
    "per-runtime digests, final status and the operator checklist. Exactly one per pipeline, also written as "
    "JSON beside the candidate env. Reported by release_pipeline_sensor when the pipeline ends: a materialization "
    "for a release, an observation for anything else (failed, canceled, dev-test): only a release is materialized.",
)

STAGE_ASSETS = (contracts, build_test, package, digest_fan_in, deployment, remote_validation)
PIPELINE_ASSETS = (
    contracts,
    build_test,
    package,
    runtime_digest,
    digest_fan_in,
    deployment,
    remote_validation,
    release_record,
)
