"""Gates over a release pipeline's stages: stage passed, publish coverage, digests, runtime image conformance."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from pydantic import Field

from pc_release.models import Record, Verdict
from pc_release.policy.pipeline.stages import (
    NOT_RUN_BY_PROFILE,
    STAGE_TITLES,
    RuntimePlan,
    StageOutcome,
    missing_artifact_hint,
    runtime_plan,
)
from pc_release.release_config import ReleaseConfig

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def stage_passed(outcome: StageOutcome) -> Verdict:
    """A stage passes when every job it expects passed (allowed failures and report-only evidence warn)."""
    failing = [row for row in outcome.jobs if row.state == "failed"]
    evidence: dict[str, str | int | bool | list[str]] = {
        "stage_status": outcome.status,
        "jobs": [f"{row.name}: {row.status}" for row in outcome.jobs],
    }
    if outcome.not_run_by_profile:
        evidence["not_run_by_profile"] = list(outcome.not_run_by_profile)
    if outcome.hints:
        evidence["hints"] = list(outcome.hints)
    title = STAGE_TITLES.get(outcome.stage, outcome.stage)
    if outcome.status in ("passed", "not_run_by_profile"):
        reason = f"{title}: {NOT_RUN_BY_PROFILE}" if outcome.status == "not_run_by_profile" else f"{title}: passed"
        return Verdict(rule="stage_passed", ok=True, reason=reason, evidence=evidence)
    if outcome.status == "passed_with_warnings":
        warned = [row.name for row in outcome.jobs if row.state == "warning"]
        return Verdict(
            rule="stage_passed",
            status="warning",
            reason=f"{title}: passed; allowed to fail and failed: {', '.join(warned)}",
            evidence=evidence,
        )
    if failing:
        reason = f"{title}: failed: " + "; ".join(f"{row.name} ({row.hint})" for row in failing)
    elif outcome.missing:
        reason = f"{title}: expected jobs did not run: {', '.join(outcome.missing)}. {' '.join(outcome.hints)}"
    elif outcome.status == "canceled":
        reason = f"{title}: canceled before it finished"
    elif outcome.status == "missing":
        reason = f"{title}: no jobs in this pipeline. {' '.join(outcome.hints)}"
    else:
        reason = f"{title}: {outcome.status}"
    return Verdict(rule="stage_passed", ok=False, reason=reason.strip(), evidence=evidence)


def runtimes_have_publish_jobs(
    config: ReleaseConfig, runtimes: Sequence[str], package: StageOutcome, profile: str
) -> Verdict:
    """Every runtime of the matrix has a matching publish job, an intentional filter, or is left out by web-fast."""
    plan = runtime_plan(config, runtimes, profile)
    present = {row.name for row in package.jobs}
    missing = [r for r in plan.expected if config.publish_job_for(r) not in present]
    evidence: dict[str, str | int | bool | list[str]] = {
        "runtimes": list(runtimes),
        "publish_jobs": [config.publish_job_for(r) for r in plan.expected],
        "filtered": [f"{r}: {why}" for r, why in plan.filtered.items()],
        "not_run_by_profile": list(plan.not_run_by_profile),
    }
    if missing:
        return Verdict(
            rule="runtimes_have_publish_jobs",
            ok=False,
            reason=f"runtime(s) without a publish job or filter: {', '.join(missing)}. {missing_artifact_hint(config)}",
            evidence=evidence | {"missing": missing},
        )
    return Verdict(
        rule="runtimes_have_publish_jobs",
        ok=True,
        reason=f"{len(plan.expected)} runtime(s) have a publish job"
        + (f"; filtered on purpose: {', '.join(plan.filtered)}" if plan.filtered else "")
        + (f"; {NOT_RUN_BY_PROFILE}: {', '.join(plan.not_run_by_profile)}" if plan.not_run_by_profile else ""),
        evidence=evidence,
    )


def runtime_digests_present(
    config: ReleaseConfig,
    plan: RuntimePlan,
    digests: Mapping[str, str | None],
    unreadable: Mapping[str, str] | None = None,
) -> Verdict:
    """Every runtime the pipeline publishes reported a `sha256:` digest for the fan-in.

    `unreadable`: runtime -> why its publish job's digest artifact could not be read (absent, not dotenv).
    """
    problems = []
    for runtime in plan.expected:
        value = digests.get(runtime)
        variable = config.digest_variable_for(runtime)
        if unreadable and runtime in unreadable:
            problems.append(f"{runtime} ({unreadable[runtime]})")
        elif not value:
            problems.append(f"{runtime} ({variable} not found in {config.digest_artifact})")
        elif not DIGEST.fullmatch(value):
            problems.append(f"{runtime} ({variable}={value!r} is not a sha256: digest)")
    evidence: dict[str, str | int | bool | list[str]] = {
        "digests": [f"{r}: {digests.get(r) or 'missing'}" for r in plan.expected],
        "not_run_by_profile": list(plan.not_run_by_profile),
        "filtered": list(plan.filtered),
    }
    if problems:
        return Verdict(
            rule="runtime_digests_present",
            ok=False,
            reason=f"missing or malformed runtime digest for: {', '.join(problems)}. {missing_artifact_hint(config)}",
            evidence=evidence,
        )
    return Verdict(
        rule="runtime_digests_present",
        ok=True,
        reason=f"every published runtime has a sha256 digest ({', '.join(plan.expected) or 'none expected'})",
        evidence=evidence,
    )


class RunningRuntime(Record):
    """What the cluster runs for one runtime: its workload, whether the rollout finished, and the image ID of
    the runtime's own container in each of its live (not terminating) pods."""

    runtime: str
    workload: str | None
    container: str = Field(description="The runtime's own container in its pods (release config runtime_containers).")
    rollout_complete: bool
    rollout_detail: str = ""
    image_ids: list[str] = Field(default_factory=list)
    pods_without_container: list[str] = Field(
        default_factory=list, description="Live pods of the workload with no container of that name."
    )


# `repo@sha256:...` (containerd, CRI-O) or `docker-pullable://repo@sha256:...` (dockershim): a registry digest.
_REGISTRY_DIGEST = re.compile(r"@(sha256:[0-9a-f]{64})$")


def running_digest(image_id: str) -> str | None:
    """The registry (manifest) digest a container's imageID names, or None when it names none.

    A bare `sha256:...` (or `docker://sha256:...`) is the local image ID, the digest of the image config: a
    runtime reports it for images it did not pull by a registry reference (e.g. `kind load`), and it is never
    equal to the manifest digest a publish job reports, so it proves neither a match nor a mismatch.
    """
    found = _REGISTRY_DIGEST.search(image_id)
    return found.group(1) if found else None


def runtime_image_conformance(
    expected: Mapping[str, str | None], running: Mapping[str, RunningRuntime], context: str
) -> Verdict:
    """Every released runtime's own container runs exactly its fan-in digest, and its rollout finished.

    An image ID that is not a registry digest cannot be compared: it is reported as "cannot verify" (a
    warning), never as a mismatch.
    """
    problems: list[str] = []
    unverified: list[str] = []
    evidence: dict[str, str | int | bool | list[str]] = {"kube_context": context}
    rows = []
    for runtime, digest in expected.items():
        seen = running.get(runtime)
        if digest is None:
            problems.append(f"{runtime}: no fan-in digest to compare with")
            continue
        if seen is None or seen.workload is None:
            problems.append(f"{runtime}: no workload found in the cluster (expected {digest})")
            continue
        digests = sorted({d for i in seen.image_ids if (d := running_digest(i))})
        image_only = sorted({i for i in seen.image_ids if i and not running_digest(i)})
        running_text = ", ".join([*digests, *image_only]) or "no pods"
        rows.append(f"{runtime} (container {seen.container}): expected {digest}, running {running_text}")
        if not seen.rollout_complete:
            problems.append(f"{runtime}: rollout of {seen.workload} not finished ({seen.rollout_detail})")
        if seen.pods_without_container:
            problems.append(
                f"{runtime}: pod(s) {', '.join(seen.pods_without_container)} of {seen.workload} have no container "
                f"named {seen.container!r} (name the runtime's container in .pc-release.yaml runtime_containers)"
            )
        wrong = [d for d in digests if d != digest]
        if wrong:
            problems.append(f"{runtime}: expected {digest}, running {', '.join(wrong)}")
        if image_only:
            unverified.append(
                f"{runtime}: cannot verify, the pods report image ID {', '.join(image_only)}, not a registry digest"
            )
        if not digests and not image_only and not seen.pods_without_container:
            problems.append(f"{runtime}: no running pod reports an image ID (expected {digest})")
    evidence["runtimes"] = rows
    if unverified:
        evidence["cannot_verify"] = unverified
    if problems:
        evidence["problems"] = problems
        return Verdict(
            rule="runtime_image_conformance",
            ok=False,
            reason="; ".join(problems + unverified)
            + ". Check the deploy manifests' image pins and annotations and the rollout; fix on master.",
            evidence=evidence,
        )
    if unverified:
        return Verdict(
            rule="runtime_image_conformance",
            status="warning",
            reason="; ".join(unverified)
            + ". Deploy images by registry reference (pinned @sha256) so the kubelet reports their digest.",
            evidence=evidence,
        )
    return Verdict(
        rule="runtime_image_conformance",
        ok=True,
        reason=f"{len(expected)} runtime(s) run their fan-in digest with the rollout finished",
        evidence=evidence,
    )
