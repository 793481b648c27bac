"""A failed release as a release manager sees it in the Dagster UI (real webserver, real Chromium): the record's
Events list marks it observed, not materialized, its description says FAILED, and its final check reads failed;
the release before it stays the asset's latest materialization."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from pc_release_tests.conftest import TOKEN, _wait_for
from pc_release_tests.demo.test_demo import CHROMIUM_ARGS
from pc_release_tests.demo.test_release_manager_day import Shots
from pc_release_tests.pipeline.harness import dist_dir, failed_after_release
from pc_release_tests.production.daemon import base_env, running_webserver
from pc_release_tests.promotion_harness import PROJECT


@pytest.mark.timeout(300)
def test_a_failed_release_reads_failed_in_the_dagster_ui(platform, instance, driver, tmp_path: Path) -> None:
    world, server = platform
    case = failed_after_release(world, server, instance, driver)
    good_sha, bad_sha, pid = case.good_sha, case.bad_sha, case.pipeline_id

    env = base_env() | {
        "PC_RELEASE_REPO_PATH": str(world.clone),
        "PC_RELEASE_GITLAB_URL": server.url,
        "PC_RELEASE_GITLAB_PROJECT": PROJECT,
        "PC_RELEASE_GITLAB_TOKEN": TOKEN,
        "PC_RELEASE_DIST_DIR": str(dist_dir(world)),
    }
    home = Path(instance.root_directory)
    shot = Shots(tmp_path / "screenshots", artifacts="failed-release")
    with running_webserver(home, env, tmp_path / "webserver.log") as webserver, sync_playwright() as playwright:
        _wait_for(webserver.answers, timeout=180, interval=0.5)
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = shot.page = browser.new_page(viewport={"width": 1600, "height": 1000})
            # A fresh DAGSTER_HOME shows the community modal whenever it likes: dismiss it when it comes.
            page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())
            page.goto(f"{webserver.url}/assets/release_record?view=events")
            # The newest event is selected: the failed pipeline, observed (no green "Materialized" tick).
            expect(page.get_by_text(f"FAILED: release of {bad_sha}").first).to_be_visible(timeout=120_000)
            expect(page.get_by_text("Observed", exact=True).first).to_be_visible()
            expect(page.get_by_text("Materialized", exact=True)).to_have_count(0)
            shot("failed-release-observed")

            # The asset's latest materialization is still the release in force.
            page.goto(f"{webserver.url}/assets/release_record")
            expect(page.get_by_text("Latest materialization", exact=True).first).to_be_visible(timeout=60_000)
            expect(page.get_by_role("heading", name=f"released: {good_sha}")).to_be_visible()

            # Its final check reads failed, naming the failed pipeline.
            page.goto(f"{webserver.url}/assets/release_record?view=checks")
            expect(page.get_by_text("Failed", exact=True).first).to_be_visible(timeout=60_000)
            expect(page.get_by_text("failed: pipeline failed; contracts failed").first).to_be_visible()
            expect(page.get_by_text(f"/-/pipelines/{pid}").first).to_be_visible()
            shot("failed-release-check")
        finally:
            browser.close()
            shot.publish()
