"""release_state_sensor: report release_state whenever what is released, master's head, master CI on that head or
the newest promotion record changes.

A tick costs one `git ls-remote`, one GitLab request (the newest master pipeline for the head) and three
instance reads; only a tick that sees a change counts commits, after fetching the two tips if the clone lacks
them (no ref moves, so it never contends with a running promotion's fetch).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import dagster as dg

from pc_release.defs.audit.assets import release_state
from pc_release.defs.audit.reads import GitReads
from pc_release.defs.audit.records import last_outcome
from pc_release.errors import GitLabError
from pc_release.policy.release_state import ReleaseState, headline
from pc_release.resources.git import GitResource
from pc_release.resources.gitlab import GitLabResource

NO_PIPELINE = "no pipeline yet"


def _metadata(state: ReleaseState) -> dict[str, dg.RawMetadataValue]:
    last = state.last
    metadata: dict[str, dg.RawMetadataValue] = {
        "release_sha": state.release_sha or "(absent)",
        "master_head": state.master_head,
        "commits_behind": state.behind if state.behind is not None else "(no release branch)",
        "release_only_commits": state.release_only if state.release_only is not None else "(no release branch)",
        "master_ci": state.master_ci,
        "last_outcome": last.outcome if last else "(none recorded)",
        "last_sha": last.sha if last else "(none recorded)",
        "summary": dg.MetadataValue.md(headline(state)),
    }
    if state.master_pipeline_url:
        metadata["master_pipeline_url"] = dg.MetadataValue.url(state.master_pipeline_url)
    if last:
        metadata["last_recorded_at"] = dg.MetadataValue.timestamp(last.recorded_at)
        if last.pipeline_url:
            metadata["last_pipeline_url"] = dg.MetadataValue.url(last.pipeline_url)
    return metadata


@dg.sensor(
    name="release_state_sensor",
    # What it reports, so release_state names the sensor as its automation; it never requests a run.
    asset_selection=dg.AssetSelection.assets(release_state.key),
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Reports release_state (release SHA vs master head, commits behind, master CI on the head, last "
    "promotion outcome) when any of it changes; read-only.",
)
def release_state_sensor(context: dg.SensorEvaluationContext, git: GitResource, gitlab: GitLabResource):
    reads = GitReads(git.clone())
    master, release = reads.remote_heads()
    if master is None:
        return dg.SkipReason(f"{git.master_branch} does not exist on {git.remote}")
    try:
        pipeline = gitlab.master_pipeline_for(master)
    except GitLabError as err:
        if err.rule != "gitlab-transient":
            raise
        return dg.SkipReason(f"{err}; trying again next tick")
    newest = last_outcome(context.instance)
    seen = [master, release, pipeline.id if pipeline else None, pipeline.status if pipeline else None]
    seen.append(newest[0] if newest else None)
    if context.cursor is not None and json.loads(context.cursor) == seen:
        ci = pipeline.status if pipeline else NO_PIPELINE
        return dg.SkipReason(
            f"unchanged since the last report: {git.release_branch} {release or '(absent)'}, "
            f"{git.master_branch} head {master} (CI {ci})"
        )
    behind = release_only = None
    if release is not None:
        reads.fetch_commits(master, release)
        behind, release_only = reads.left_right(master, release)
    state = ReleaseState(
        master_branch=git.master_branch,
        release_branch=git.release_branch,
        master_head=master,
        release_sha=release,
        behind=behind,
        release_only=release_only,
        master_ci=pipeline.status if pipeline else NO_PIPELINE,
        master_pipeline_url=pipeline.web_url if pipeline else None,
        last=newest[1] if newest else None,
        read_at=datetime.now(UTC),
    )
    summary = headline(state)
    context.log.info(summary)
    return dg.SensorResult(
        asset_events=[dg.AssetMaterialization(release_state.key, description=summary, metadata=_metadata(state))],
        cursor=json.dumps(seen),
    )
