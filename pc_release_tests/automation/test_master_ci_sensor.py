"""master_ci_sensor on a real Dagster instance, a real git origin and the sandbox GitLab over HTTP."""

import json

import dagster as dg
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from pc_release.definitions import build_definitions
from pc_release.defs.automation.sensors import SHA_TAG, TRIGGER_TAG, master_ci_sensor_for, run_key
from pc_release.resources.git import GitResource
from pc_release.resources.gitlab import GitLabResource
from pc_release.resources.policy import ReleasePolicyResource
from pc_release.settings import Settings
from pc_release_tests.audit.steps import advance_master, green
from pc_release_tests.conftest import TOKEN, seeded_instance
from pc_release_tests.gitworld import RELEASE_BRANCH
from pc_release_tests.promotion_harness import PROJECT, promote, settings_for

# The run queue of dagster.yaml: queued promotions are what a newer green head supersedes.
QUEUED = {"run_coordinator": {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator"}}


# Where the daemon says a queued run's code lives; Dagster requires one on every queued run.
CODE_ORIGIN = RemoteJobOrigin(
    repository_origin=RemoteRepositoryOrigin(
        code_location_origin=InProcessCodeLocationOrigin(
            LoadableTargetOrigin(module_name="pc_release.definitions", attribute="defs")
        ),
        repository_name="__repository__",
    ),
    job_name="promote_release",
)


@pytest.fixture
def queued_instance(tmp_path):
    with seeded_instance(tmp_path / "dagster-home", overrides=QUEUED) as instance:
        yield instance


class Ticks:
    """Successive sensor ticks carrying the cursor forward, as the daemon does; counts GitLab requests."""

    def __init__(self, world, server, instance, *, auto_promotion: bool = True):
        self.world, self.server, self.instance = world, server, instance
        self.policy = ReleasePolicyResource(auto_promotion=auto_promotion)
        self.cursor: str | None = None
        self.gitlab_requests = 0

    def tick(self) -> list[dg.RunRequest]:
        self.server.reset_request_log()
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={
                "git": GitResource(repo_path=str(self.world.clone)),
                "gitlab": GitLabResource(url=self.server.url, project=PROJECT, token=TOKEN),
                "policy": self.policy,
            },
        )
        result = master_ci_sensor_for(self.policy.auto_promotion)(context)
        self.gitlab_requests = len(self.server.request_log)
        if isinstance(result, dg.SensorResult):
            self.cursor = result.cursor or self.cursor
            return list(result.run_requests or [])
        assert isinstance(result, dg.SkipReason)
        self.skip = result.skip_message
        return []


def test_green_head_requests_exactly_one_promotion_which_promotes_it(world, gitlab_server, instance):
    head = advance_master(world, "feature merged")
    green(gitlab_server, head)
    ticks = Ticks(world, gitlab_server, instance)

    (request,) = ticks.tick()

    assert request.run_key == run_key(head)
    assert request.run_config == {"ops": {"source_commit": {"config": {"source_ref": head}}}}
    assert request.tags[SHA_TAG] == head and request.tags[TRIGGER_TAG] == "master_ci_sensor"
    assert json.loads(ticks.cursor) == {"requested_sha": head}
    for _ in range(3):
        assert ticks.tick() == []
        assert ticks.gitlab_requests == 0
    assert "already requested" in ticks.skip

    out = promote(world, gitlab_server.url, instance, config=request.run_config["ops"]["source_commit"]["config"])
    assert out.success, out.summary.text
    assert world.release_sha() == head
    assert Ticks(world, gitlab_server, instance).tick() == []


def test_release_already_at_green_head_requests_nothing(world, gitlab_server, instance):
    head = advance_master(world, "feature merged")
    green(gitlab_server, head)
    world.push(f"master:{RELEASE_BRANCH}")
    ticks = Ticks(world, gitlab_server, instance)

    assert ticks.tick() == []
    assert "already points at master head" in ticks.skip
    assert ticks.gitlab_requests == 0


def test_two_green_heads_in_a_row_promote_only_the_newer(world, gitlab_server, instance):
    older = advance_master(world, "first")
    green(gitlab_server, older)
    newer = advance_master(world, "second")
    green(gitlab_server, newer)

    (request,) = Ticks(world, gitlab_server, instance).tick()

    assert request.tags[SHA_TAG] == newer


def test_newer_green_head_supersedes_a_queued_older_promotion(world, gitlab_server, queued_instance):
    ticks = Ticks(world, gitlab_server, queued_instance)
    older = advance_master(world, "first")
    green(gitlab_server, older)
    (first,) = ticks.tick()
    job = build_definitions(settings_for(world, gitlab_server.url, world.clone.parent / "dist")).resolve_job_def(
        "promote_release"
    )
    queued = queued_instance.create_run_for_job(
        job,
        run_config=first.run_config,
        tags=first.tags,
        status=dg.DagsterRunStatus.QUEUED,
        remote_job_origin=CODE_ORIGIN,
    )
    newer = advance_master(world, "second")
    pipeline = green(gitlab_server, newer, status="running")
    assert ticks.tick() == []  # a newer head that is not green yet supersedes nothing
    assert queued_instance.get_run_by_id(queued.run_id).status == dg.DagsterRunStatus.QUEUED

    gitlab_server.set_all_jobs_status(pipeline, "success")
    (second,) = ticks.tick()

    assert second.tags[SHA_TAG] == newer
    assert queued_instance.get_run_by_id(queued.run_id).status == dg.DagsterRunStatus.CANCELED


@pytest.mark.parametrize("status", ["failed", "running", "canceled"])
def test_head_without_green_ci_requests_nothing(world, gitlab_server, instance, status):
    head = advance_master(world, "feature merged")
    green(gitlab_server, head, status=status)
    ticks = Ticks(world, gitlab_server, instance)

    assert ticks.tick() == []
    assert f"for head {head} is {status}" in ticks.skip
    assert ticks.gitlab_requests == 1


def test_head_without_a_pipeline_waits(world, gitlab_server, instance):
    advance_master(world, "just pushed")
    ticks = Ticks(world, gitlab_server, instance)
    assert ticks.tick() == []
    assert "no master pipeline" in ticks.skip


def test_idle_tick_cost_does_not_grow_with_history(world, gitlab_server, instance):
    ticks = Ticks(world, gitlab_server, instance)
    head = advance_master(world, "head")
    green(gitlab_server, head, status="running")
    ticks.tick()
    short_history = ticks.gitlab_requests
    for i in range(25):
        sha = advance_master(world, f"change {i}")
        green(gitlab_server, sha)
    head = advance_master(world, "new head")
    green(gitlab_server, head, status="running")
    ticks.tick()
    assert ticks.gitlab_requests == short_history == 1


def _sensor(settings: Settings) -> dg.SensorDefinition:
    return build_definitions(settings).resolve_sensor_def("master_ci_sensor")


def test_auto_promotion_off_starts_the_sensor_stopped_and_each_tick_says_why(world, gitlab_server, instance):
    head = advance_master(world, "feature merged")
    green(gitlab_server, head)
    settings = settings_for(world, gitlab_server.url, world.clone.parent / "dist")
    assert not settings.auto_promotion  # off by default
    assert _sensor(settings).default_status == dg.DefaultSensorStatus.STOPPED
    ticks = Ticks(world, gitlab_server, instance, auto_promotion=False)

    assert ticks.tick() == []
    assert ticks.skip == "auto-promotion is off; PC_RELEASE_AUTO_PROMOTION=true turns it on"
    assert ticks.gitlab_requests == 0


def test_auto_promotion_on_starts_the_sensor_running(world, gitlab_server, monkeypatch):
    monkeypatch.setenv("PC_RELEASE_AUTO_PROMOTION", "true")
    settings = settings_for(world, gitlab_server.url, world.clone.parent / "dist")
    assert _sensor(settings).default_status == dg.DefaultSensorStatus.RUNNING


def test_the_sensor_reads_auto_promotion_from_its_resource_not_the_environment(
    world, gitlab_server, instance, monkeypatch
):
    head = advance_master(world, "feature merged")
    green(gitlab_server, head)
    defs = build_definitions(settings_for(world, gitlab_server.url, world.clone.parent / "dist"))
    # A run or tick in another process sees the code location's resources, not that process's environment.
    monkeypatch.setenv("PC_RELEASE_AUTO_PROMOTION", "true")
    context = dg.build_sensor_context(instance=instance, resources=defs.resources)

    result = defs.resolve_sensor_def("master_ci_sensor")(context)

    assert isinstance(result, dg.SkipReason) and "auto-promotion is off" in result.skip_message
