"""release_state_sensor on a real Dagster instance, a real git origin and the sandbox GitLab over HTTP: it reports
release_state once per change of what is released, master's head, master CI on it or the newest record."""

import dagster as dg

from pc_release.defs.audit.sensors import release_state_sensor
from pc_release.resources.git import GitResource
from pc_release.resources.gitlab import GitLabResource
from pc_release_tests.audit.steps import advance_master, green, release_edit, released_platform
from pc_release_tests.conftest import TOKEN
from pc_release_tests.gitworld import RELEASE_BRANCH, git
from pc_release_tests.pipeline.harness import SensorDriver, history, meta, sensor_resources
from pc_release_tests.promotion_harness import PROJECT


class Ticks:
    """Successive ticks applied as the daemon applies them: reported events stored, the cursor carried forward."""

    def __init__(self, world, server, instance):
        self.world, self.server, self.instance = world, server, instance
        self.cursor: str | None = None
        self.skip: str | None = None
        self.gitlab_requests = 0

    def tick(self) -> int:
        """How many release_state materializations the tick reported."""
        self.server.reset_request_log()
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={
                "git": GitResource(repo_path=str(self.world.clone)),
                "gitlab": GitLabResource(url=self.server.url, project=PROJECT, token=TOKEN),
            },
        )
        result = release_state_sensor(context)
        self.gitlab_requests = len(self.server.request_log)
        if isinstance(result, dg.SkipReason):
            self.skip = result.skip_message
            return 0
        for event in result.asset_events:
            self.instance.report_runless_asset_event(event)
        self.cursor = result.cursor
        return len(result.asset_events)

    def state(self) -> dict:
        return meta(history(self.instance, "release_state")[-1])


def test_after_a_promotion_the_state_says_what_is_released_and_reports_it_once(world, gitlab_server, instance):
    sha = released_platform(world, gitlab_server, instance)
    ticks = Ticks(world, gitlab_server, instance)

    assert ticks.tick() == 1
    state = ticks.state()
    assert state["release_sha"] == state["master_head"] == sha
    assert state["commits_behind"] == 0 and state["release_only_commits"] == 0
    assert state["master_ci"] == "success"
    assert state["last_outcome"] == "in progress: release pipeline running"
    assert state["last_sha"] == sha
    assert f"{RELEASE_BRANCH} is at master head {sha[:12]} (CI success)" in state["summary"]

    for _ in range(3):
        assert ticks.tick() == 0
        assert ticks.gitlab_requests == 1
    assert ticks.skip.startswith("unchanged since the last report")
    assert len(history(instance, "release_state")) == 1


def test_a_new_master_commit_and_its_ci_each_change_the_state_once(world, gitlab_server, instance):
    released = released_platform(world, gitlab_server, instance)
    ticks = Ticks(world, gitlab_server, instance)
    ticks.tick()

    head = advance_master(world, "feature merged")
    assert ticks.tick() == 1
    state = ticks.state()
    assert state["release_sha"] == released and state["master_head"] == head
    assert state["commits_behind"] == 1 and state["release_only_commits"] == 0
    assert state["master_ci"] == "no pipeline yet"
    assert "1 commit(s) behind master head" in state["summary"]
    assert ticks.tick() == 0

    pipeline = green(gitlab_server, head, status="running")
    assert ticks.tick() == 1 and ticks.state()["master_ci"] == "running"
    gitlab_server.set_all_jobs_status(pipeline, "success")
    assert ticks.tick() == 1 and ticks.state()["master_ci"] == "success"
    assert ticks.tick() == 0
    assert len(history(instance, "release_state")) == 4


def test_the_release_record_becomes_the_last_outcome(world, gitlab_server, instance):
    sha = released_platform(world, gitlab_server, instance)
    ticks = Ticks(world, gitlab_server, instance)
    ticks.tick()
    (pipeline,) = [p for p in gitlab_server.pipelines() if p["ref"] == RELEASE_BRANCH]
    gitlab_server.set_all_jobs_status(pipeline["id"], "success")
    SensorDriver(instance=instance, resources=sensor_resources(world, gitlab_server.url)).tick()
    (record,) = history(instance, "release_record")

    assert ticks.tick() == 1
    state = ticks.state()
    assert state["last_outcome"] == meta(record)["status"]  # the record's own words, e.g. "not released"
    assert state["last_sha"] == sha
    assert state["last_pipeline_url"] == pipeline["web_url"]
    assert ticks.tick() == 0


def test_a_commit_pushed_from_elsewhere_is_counted_without_moving_the_clones_refs(world, gitlab_server, instance):
    released = released_platform(world, gitlab_server, instance)
    ticks = Ticks(world, gitlab_server, instance)
    ticks.tick()
    refs_before = git(world.clone, "for-each-ref")

    hotfix = release_edit(world, "hotfix straight on release", {"README.md": "edited on release\n"})
    assert ticks.tick() == 1

    state = ticks.state()
    assert state["release_sha"] == hotfix and state["master_head"] == released
    assert state["commits_behind"] == 0 and state["release_only_commits"] == 1
    assert "with 1 release-only commit(s)" in state["summary"]
    # A promotion running beside the sensor owns the clone's refs: the sensor fetched the commit, moved no ref.
    assert git(world.clone, "for-each-ref") == refs_before
