"""ReleaseClusterResource: the cluster release pipelines deploy to, read for runtime image conformance.

It is the kind-parity cluster's client (KubernetesResource, subclassed rather than nested: a nested resource
makes Dagster read the deprecated InitResourceContext.dagster_run on every init) pointed at the release target
instead, plus the namespace the platform runs in; unconfigured means conformance is recorded as "not checked".
"""

from __future__ import annotations

from collections.abc import Sequence

from pc_release.errors import PcReleaseError
from pc_release.models import KubeDeployment, KubePod, KubeSelectorRequirement, Verdict
from pc_release.policy.pipeline import gates as gate_rules
from pc_release.release_config import ReleaseConfig
from pc_release.resources.kubernetes import KubernetesResource

NAME_LABEL = "app.kubernetes.io/name"
NOT_CONFIGURED = "not checked: no kube context configured for the release cluster"


def _workload(deployments: Sequence[KubeDeployment], runtime: str) -> KubeDeployment | None:
    by_name = [d for d in deployments if d.name == runtime]
    return (by_name or [d for d in deployments if d.labels.get(NAME_LABEL) == runtime] or [None])[0]


def _requirement_holds(requirement: KubeSelectorRequirement, labels: dict[str, str]) -> bool:
    """One matchExpressions entry, with the API server's semantics (an unknown operator selects nothing)."""
    present = requirement.key in labels
    if requirement.operator == "In":
        return present and labels[requirement.key] in requirement.values
    if requirement.operator == "NotIn":
        return not present or labels[requirement.key] not in requirement.values
    if requirement.operator == "Exists":
        return present
    if requirement.operator == "DoesNotExist":
        return not present
    return False


def selects(deployment: KubeDeployment, labels: dict[str, str]) -> bool:
    """Whether the workload's label selector (matchLabels AND every matchExpressions entry) selects `labels`.

    A workload without any selector selects nothing here: apps/v1 refuses one, so it cannot own pods.
    """
    if not deployment.selector and not deployment.selector_expressions:
        return False
    return deployment.selector.items() <= labels.items() and all(
        _requirement_holds(requirement, labels) for requirement in deployment.selector_expressions
    )


def _pods_of(deployment: KubeDeployment, pods: Sequence[KubePod]) -> list[KubePod]:
    """The workload's live pods: selected by it, running, and not on their way out (a rollout's old pods)."""
    return [pod for pod in pods if selects(deployment, pod.labels) and pod.phase == "Running" and not pod.terminating]


def running_runtime(
    runtime: str, container: str, deployments: Sequence[KubeDeployment], pods: Sequence[KubePod]
) -> gate_rules.RunningRuntime:
    """One runtime as the cluster runs it: the image ID of its own `container` in each live pod, and only that
    (sidecars such as istio-proxy and init containers run other images on purpose)."""
    deployment = _workload(deployments, runtime)
    if deployment is None:
        return gate_rules.RunningRuntime(
            runtime=runtime, workload=None, container=container, rollout_complete=False, rollout_detail="absent"
        )
    selected = _pods_of(deployment, pods)
    image_ids, without = [], []
    for pod in selected:
        own = [c.image_id for c in pod.containers if c.name == container]
        image_ids += own
        if not own:
            without.append(f"{pod.name} (containers: {', '.join(c.name for c in pod.containers) or 'none'})")
    wanted = deployment.replicas if deployment.replicas is not None else 1
    ready_pods = sum(1 for pod in selected if pod.ready)
    complete = deployment.ready_replicas >= wanted and ready_pods == len(selected) and ready_pods >= wanted
    return gate_rules.RunningRuntime(
        runtime=runtime,
        workload=f"{deployment.kind}/{deployment.name}",
        container=container,
        rollout_complete=complete,
        rollout_detail=f"{deployment.ready_replicas}/{wanted} replicas ready, {ready_pods}/{len(selected)} pods ready",
        image_ids=image_ids,
        pods_without_container=without,
    )


class ReleaseClusterResource(KubernetesResource):
    """Where release pipelines deploy: a kube context (KubernetesResource's fields) and the platform's namespace."""

    namespace: str = "platform-control"

    def conformance(self, expected: dict[str, str | None], config: ReleaseConfig) -> Verdict:
        """Runtime image conformance of the live workloads against the fan-in digests (two API reads); each
        runtime's own container is the one `config` names for it."""
        target = f"{self.target}, namespace {self.namespace}"
        try:
            deployments = self.deployments(self.namespace)
            pods = self.pods(self.namespace)
        except PcReleaseError as err:
            return Verdict(
                rule="runtime_image_conformance",
                ok=False,
                reason=f"could not read the release cluster ({target}): {err.detail}",
                evidence={"kube_context": target},
            )
        running = {
            runtime: running_runtime(runtime, config.container_for(runtime), deployments, pods) for runtime in expected
        }
        return gate_rules.runtime_image_conformance(expected, running, target)
