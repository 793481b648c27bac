"""A release pipeline's downstream pipelines: pc-release follows the child pipelines of the project (their jobs
count in the stages, their status in the record) and names every other downstream pipeline as not followed."""

from __future__ import annotations

from collections.abc import Sequence

from pc_release.models import GITLAB_TERMINAL_STATUSES, BridgeInfo, Record


class Downstream(Record):
    """One trigger job of the release pipeline (or of a child) and the pipeline it started."""

    bridge: str
    bridge_status: str
    bridge_url: str
    pipeline_id: int | None = None
    pipeline_status: str | None = None
    pipeline_url: str | None = None
    project_id: int | None = None
    followed: bool = False

    @property
    def settled(self) -> bool:
        """Nothing more to wait for: a followed child finished, or the downstream is not followed."""
        return not self.followed or self.pipeline_status in GITLAB_TERMINAL_STATUSES

    @property
    def failed(self) -> bool:
        """A followed child that did not succeed: its parent's success is not the release's."""
        return self.followed and self.pipeline_status != "success"

    def describe(self) -> str:
        if self.pipeline_id is None:
            return f"trigger job {self.bridge} ({self.bridge_status}) started no downstream pipeline, none followed"
        if self.followed:
            return f"trigger job {self.bridge}: child pipeline {self.pipeline_id} {self.pipeline_status}"
        return (
            f"trigger job {self.bridge}: downstream pipeline {self.pipeline_id} {self.pipeline_status} "
            f"({self.pipeline_url}) not followed: not a child pipeline of this project (multi-project); its "
            "jobs are not in this release's verdicts"
        )


def downstream_of(bridge: BridgeInfo, project_id: int | None) -> Downstream:
    """Whether pc-release follows what this trigger job started: a child pipeline (source `parent_pipeline`) of
    the release pipeline's own project; a multi-project pipeline is only named."""
    child = bridge.downstream
    followed = (
        child is not None
        and child.source == "parent_pipeline"
        and (child.project_id is None or project_id is None or child.project_id == project_id)
    )
    return Downstream(
        bridge=bridge.name,
        bridge_status=bridge.status,
        bridge_url=bridge.web_url,
        pipeline_id=child.id if child else None,
        pipeline_status=child.status if child else None,
        pipeline_url=child.web_url if child else None,
        project_id=child.project_id if child else None,
        followed=followed,
    )


def not_followed(downstream: Sequence[Downstream]) -> list[str]:
    """The trigger jobs whose downstream the release's verdict does not cover, named."""
    return [d.describe() for d in downstream if not d.followed]
