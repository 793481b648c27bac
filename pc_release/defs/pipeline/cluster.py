"""ReleaseClusterResource: the cluster release pipelines deploy to, read for runtime image conformance.

It is the kind-parity cluster's client (KubernetesResource) pointed at the release target instead, plus the
namespace the platform runs in; unconfigured means conformance is recorded as "not checked".
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from pc_release.errors import PcReleaseError
from pc_release.models import KubeDeployment, KubePod, Verdict
from pc_release.policy import pipeline as rules
from pc_release.resources.kubernetes import KubernetesResource

NAME_LABEL = "app.kubernetes.io/name"
NOT_CONFIGURED = "not checked: no kube context configured for the release cluster"


def _workload(deployments: Sequence[KubeDeployment], runtime: str) -> KubeDeployment | None:
    by_name = [d for d in deployments if d.name == runtime]
    return (by_name or [d for d in deployments if d.labels.get(NAME_LABEL) == runtime] or [None])[0]


def _pods_of(deployment: KubeDeployment, pods: Sequence[KubePod]) -> list[KubePod]:
    selector = deployment.selector.items()
    return [pod for pod in pods if selector and selector <= pod.labels.items() and pod.phase == "Running"]


def running_runtime(
    runtime: str, deployments: Sequence[KubeDeployment], pods: Sequence[KubePod]
) -> rules.RunningRuntime:
    """One runtime as the cluster runs it; a pod's container named after the runtime is its image, if any."""
    deployment = _workload(deployments, runtime)
    if deployment is None:
        return rules.RunningRuntime(runtime=runtime, workload=None, rollout_complete=False, rollout_detail="absent")
    selected = _pods_of(deployment, pods)
    image_ids = []
    for pod in selected:
        named = [c for c in pod.containers if c.name == runtime]
        image_ids += [c.image_id for c in named or pod.containers]
    wanted = deployment.replicas if deployment.replicas is not None else 1
    ready_pods = sum(1 for pod in selected if pod.ready)
    complete = deployment.ready_replicas >= wanted and ready_pods == len(selected) and ready_pods >= wanted
    return rules.RunningRuntime(
        runtime=runtime,
        workload=f"{deployment.kind}/{deployment.name}",
        rollout_complete=complete,
        rollout_detail=f"{deployment.ready_replicas}/{wanted} replicas ready, {ready_pods}/{len(selected)} pods ready",
        image_ids=image_ids,
    )


class ReleaseClusterResource(dg.ConfigurableResource):
    """Where release pipelines deploy: a kube context (via KubernetesResource) and the platform's namespace."""

    cluster: KubernetesResource
    namespace: str = "platform-control"

    @property
    def configured(self) -> bool:
        return self.cluster.configured

    def conformance(self, expected: dict[str, str | None]) -> Verdict:
        """Runtime image conformance of the live workloads against the fan-in digests (two API reads)."""
        target = f"{self.cluster.target}, namespace {self.namespace}"
        try:
            deployments = self.cluster.deployments(self.namespace)
            pods = self.cluster.pods(self.namespace)
        except PcReleaseError as err:
            return Verdict(
                rule="runtime_image_conformance",
                ok=False,
                reason=f"could not read the release cluster ({target}): {err.detail}",
                evidence={"kube_context": target},
            )
        running = {runtime: running_runtime(runtime, deployments, pods) for runtime in expected}
        return rules.runtime_image_conformance(expected, running, target)
