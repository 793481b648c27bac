"""Pipeline test fixtures: one small platform world and sandbox GitLab per module (each test promotes its own
fresh master SHA, so tests never share a pipeline), and a sensor driver on each test's own instance."""

from __future__ import annotations

import pytest

from pc_release.sandbox.gitlab_server import SandboxGitLab, connect_clone
from pc_release_tests.conftest import GIT_TOKEN_VARIABLE, TOKEN
from pc_release_tests.pipeline.harness import SensorDriver, sensor_resources
from pc_release_tests.pipeline.world import make_platform_world


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    world = make_platform_world(tmp_path_factory.mktemp("platform"))
    with SandboxGitLab(origin=world.origin, token=TOKEN) as server:
        connect_clone(world.clone, "origin", server.repository_url, GIT_TOKEN_VARIABLE)
        yield world, server


@pytest.fixture
def driver(platform, instance):
    world, server = platform
    return SensorDriver(instance=instance, resources=sensor_resources(world, server.url))
