"""web_fast_eligible through the promote_release job: real git, the sandbox GitLab, a real instance."""

import gitlab

from pc_release_tests.audit.steps import advance_master, green, released_platform
from pc_release_tests.conftest import TOKEN
from pc_release_tests.promotion_harness import promote, release_pipelines

WEB_FAST = {"profile": "web-fast"}


def test_web_only_change_is_released_web_fast(world, gitlab_server, instance):
    released_platform(world, gitlab_server, instance)
    head = advance_master(world, "new banner", {"frontend/app.js": "console.log('banner')\n"})
    green(gitlab_server, head)

    out = promote(world, gitlab_server.url, instance, config=WEB_FAST)

    assert out.success, out.summary.text
    assert out.check("web_fast_eligible") is True
    assert out.check("dev_test_follow_up") is True
    assert world.release_sha() == head
    (pipeline,) = [p for p in release_pipelines(gitlab_server) if p["sha"] == head]
    project = gitlab.Gitlab(gitlab_server.url, private_token=TOKEN).projects.get(1)
    variables = {v.key: v.value for v in project.pipelines.get(pipeline["id"]).variables.list(get_all=True)}
    assert variables["PLATFORM_CONTROL_RELEASE_PROFILE"] == "web-fast"


def test_backend_change_is_refused_web_fast_before_the_push(world, gitlab_server, instance):
    released = released_platform(world, gitlab_server, instance)
    pipelines_before = len(release_pipelines(gitlab_server))
    advance_master(world, "api change merged earlier", {"runtimes/api/app.py": "app = 'api v2'\n"})
    head = advance_master(world, "web tweak", {"frontend/app.js": "console.log('tweak')\n"})
    green(gitlab_server, head)

    out = promote(world, gitlab_server.url, instance, config=WEB_FAST)

    assert not out.success
    assert out.check("web_fast_eligible") is False
    assert "web_fast_eligible" in out.summary.failed_rules
    assert "runtimes/api/app.py" in out.summary.text
    assert "frontend/app.js" not in out.summary.text.split("outside the web-only paths")[1]
    evaluation = next(e for e in out.result.get_asset_check_evaluations() if e.check_name == "web_fast_eligible")
    assert evaluation.metadata["offending_paths"].value == ["runtimes/api/app.py"]
    assert evaluation.metadata["release_config"].value == f".pc-release.yaml@{head[:12]}"
    assert world.release_sha() == released
    assert len(release_pipelines(gitlab_server)) == pipelines_before
    assert out.candidate["PLATFORM_CONTROL_RELEASE_SHA"] == released


def test_the_candidates_own_release_config_decides(world, gitlab_server, instance):
    released_platform(world, gitlab_server, instance)
    head = advance_master(
        world,
        "declare docs as web-only",
        {".pc-release.yaml": "web_only_paths: [frontend/, docs/]\n", "docs/guide.md": "guide\n"},
    )
    green(gitlab_server, head)

    out = promote(world, gitlab_server.url, instance, config=WEB_FAST)

    # The config file itself changed, and it is not a web-only path: widening the paths is not web-fast.
    assert not out.success
    evaluation = next(e for e in out.result.get_asset_check_evaluations() if e.check_name == "web_fast_eligible")
    assert evaluation.metadata["offending_paths"].value == [".pc-release.yaml"]
