"""A release manager's day on the sandbox, in real Chromium against `dagster dev`: see the current state, launch a
promotion from the Launchpad (mode and profile as choices, the defaults filled in), watch it succeed, find it in the
release history with its run and pipeline, launch one that is refused and read the rule and reason from the Runs
list, and run the dry run. Each step leaves a screenshot under the test's temp dir (and in $PC_RELEASE_ARTIFACTS
when CI sets it)."""

from __future__ import annotations

import io
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from pc_release.resources.gitlab import GitLabResource
from pc_release.sandbox.demo import PROJECT_PATH, Sandbox, push_new_master_commit, wait_for_master_ci
from pc_release_tests.demo.conftest import DemoSandbox
from pc_release_tests.demo.test_demo import CHROMIUM_ARGS, dagster_ui

LOCATION = "pc_release"
# Read at import: the suite's autouse fixture clears every PC_RELEASE_* variable before a test runs.
ARTIFACTS = os.environ.get("PC_RELEASE_ARTIFACTS")
# Waits, not assertions on time: a promotion runs each step in its own process, and the sensor ticks every 15 s.
RUN_TIMEOUT_MS = 300_000
RECORD_TIMEOUT = 300


@contextmanager
def release_manager_ui(demo: DemoSandbox, log: Path, token: str) -> Iterator[tuple[str, str]]:
    """`demo ui` with a token the test knows and the policy's skip-preflight variable set, as an operator with a
    noisy local environment would: the Launchpad then shows `skip_local_preflight: true` as the default."""
    with dagster_ui(demo, log, PC_RELEASE_GITLAB_TOKEN=token, PLATFORM_CONTROL_SKIP_LOCAL_PREFLIGHT="true") as url:
        gitlab_url = re.search(r"sandbox GitLab: (\S+)", log.read_text()).group(1)
        yield url, gitlab_url


class Shots:
    """Screenshots in the order taken, named by step; copied to $PC_RELEASE_ARTIFACTS when set."""

    def __init__(self, folder: Path, artifacts: str = "release-manager-day") -> None:
        self.folder, self.taken, self.artifacts = folder, [], artifacts
        self.page: Page | None = None
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, name: str) -> None:
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)

    def publish(self) -> None:
        if ARTIFACTS:
            target = Path(ARTIFACTS, self.artifacts)
            target.mkdir(parents=True, exist_ok=True)
            for path in self.taken:
                shutil.copy2(path, target / path.name)


def launchpad(page: Page, url: str, job: str) -> None:
    page.goto(f"{url}/locations/{LOCATION}/jobs/{job}/playground")
    expect(page.locator(".CodeMirror").first).to_be_visible(timeout=60_000)


def editor_text(page: Page) -> str:
    return page.evaluate("() => document.querySelector('.CodeMirror').CodeMirror.getValue()")


def set_editor_text(page: Page, text: str) -> None:
    page.evaluate("(text) => document.querySelector('.CodeMirror').CodeMirror.setValue(text)", text)


def launch(page: Page) -> str:
    """Press "Launch Run"; returns the run id of the run page the UI opens."""
    button = page.get_by_role("button", name=re.compile("Launch Run"))
    expect(button).to_be_enabled(timeout=30_000)
    button.click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}"), timeout=60_000)
    return re.search(r"/runs/([0-9a-f-]{36})", page.url).group(1)


def backend_change(sandbox: Sandbox) -> str:
    """A master commit touching an API file, outside the sample's web_only_paths."""
    path = sandbox.clone / "api" / "walk-change.txt"
    path.write_text(f"{secrets.token_hex(4)}\n")
    for args in (["add", str(path)], ["commit", "-q", "-m", "api: walk change"], ["push", "-q", "origin", "master"]):
        subprocess.run(["git", "-C", str(sandbox.clone), *args], check=True, capture_output=True)
    return subprocess.run(
        ["git", "-C", str(sandbox.clone), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


def record_for(home: Path, sha: str, timeout: float) -> dg.EventLogRecord:
    """The release_record the sensor (in dagster dev's daemon) writes for `sha`."""
    deadline = time.monotonic() + timeout
    with dg.DagsterInstance.from_config(str(home)) as instance:
        while time.monotonic() < deadline:
            for record in instance.fetch_materializations(dg.AssetKey("release_record"), limit=5).records:
                metadata = record.asset_materialization.metadata
                if getattr(metadata.get("sha"), "value", None) == sha:
                    return record
            time.sleep(1)
    pytest.fail(f"no release record for {sha} within {timeout:.0f}s")


# The shared demo fixture (two demo runs) may be set up inside this test's time.
@pytest.mark.timeout(1500)
def test_a_release_managers_day(demo_sandbox: DemoSandbox, tmp_path: Path) -> None:
    assert demo_sandbox.runs[-1].returncode == 0, demo_sandbox.runs[-1].output
    sandbox = Sandbox(demo_sandbox.root)
    token = secrets.token_hex(16)
    shot = Shots(tmp_path / "screenshots")
    with (
        release_manager_ui(demo_sandbox, tmp_path / "ui.log", token) as (url, gitlab_url),
        sync_playwright() as playwright,
    ):
        # A change lands on master; its CI goes green while the release manager opens the UI.
        sha = push_new_master_commit(sandbox)
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = shot.page = browser.new_page(viewport={"width": 1600, "height": 1000})

            # 1. The current state: what is released now and how far it is from master (release_state_sensor).
            page.goto(f"{url}/assets/release_state")
            skip = page.get_by_role("button", name="Skip")
            if skip.count():
                skip.click()
            for key in ("release_sha", "master_head", "commits_behind", "last_outcome"):
                expect(page.get_by_text(key, exact=True).first).to_be_visible(timeout=120_000)
            shot("current-state")

            gitlab = GitLabResource(url=gitlab_url, project=PROJECT_PATH, token=token)
            wait_for_master_ci(gitlab, sandbox, sha, 120, io.StringIO())

            # 2. The Launchpad: the promotion's choices only, with the defaults in force.
            launchpad(page, url, "promote_release")
            config = editor_text(page)
            assert "resources:" not in config
            assert "mode: full" in config and "profile: standard" in config
            assert "skip_local_preflight: true" in config  # PLATFORM_CONTROL_SKIP_LOCAL_PREFLIGHT=true
            shot("launchpad-defaults")
            run_id = launch(page)

            # 3. Watch it succeed, then find it in the release history.
            expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=RUN_TIMEOUT_MS)
            shot("promotion-succeeded")
            record = record_for(sandbox.dagster_home, sha, RECORD_TIMEOUT)
            pipeline_url = record.asset_materialization.metadata["pipeline_url"].value
            page.goto(f"{url}/assets/release_record")
            # The history table is nested in the metadata table: its row is the innermost one naming SHA and run.
            row = page.locator("tr").filter(has_text=sha).filter(has_text=run_id).last
            expect(row).to_contain_text("released", timeout=60_000)
            expect(row).to_contain_text(pipeline_url)
            expect(row.locator("td")).to_have_count(9)
            expect(page.get_by_role("link", name=pipeline_url).first).to_have_attribute("href", pipeline_url)
            row.scroll_into_view_if_needed()
            shot("release-history")
            page.get_by_role("link", name=re.compile(run_id[:8])).first.click()
            page.wait_for_url(re.compile(f"/runs/{run_id}"), timeout=30_000)

            # 4. A refused promotion: the Runs list says which rule refused it and why.
            launchpad(page, url, "promote_release")
            set_editor_text(page, editor_text(page) + "      source_ref: master~1\n")
            refused_id = launch(page)
            expect(page.get_by_text("Failure", exact=True).first).to_be_visible(timeout=RUN_TIMEOUT_MS)
            page.goto(f"{url}/runs")
            expect(page.get_by_text(refused_id[:8], exact=True).first).to_be_visible(timeout=60_000)
            # The newest run is the refused one: its tags, shown in the list, name the rule and the reason.
            expect(page.get_by_text("pc-release/refused-rule: ref-syntax", exact=True).first).to_be_visible()
            reason = page.get_by_text(re.compile(r"^pc-release/refused-reason: source ref 'master~1' contains '~'"))
            expect(reason.first).to_contain_text("give that commit's full SHA")
            shot("runs-list-refusal")

            # 5. The dry run of the next change, a backend one, as web-fast: the plan names the gate that would refuse.
            backend_change(sandbox)
            launchpad(page, url, "plan_promotion")
            set_editor_text(page, "ops:\n  promotion_plan:\n    config:\n      profile: web-fast\n")
            launch(page)
            expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=RUN_TIMEOUT_MS)
            page.goto(f"{url}/assets/promotion_plan")
            expect(page.get_by_text("would_proceed", exact=True).first).to_be_visible(timeout=60_000)
            expect(page.get_by_text("web_fast_eligible").first).to_be_visible()
            shot("dry-run-warning")
        finally:
            browser.close()
            shot.publish()

    assert [path.name for path in shot.taken] == [
        "01-current-state.png",
        "02-launchpad-defaults.png",
        "03-promotion-succeeded.png",
        "04-release-history.png",
        "05-runs-list-refusal.png",
        "06-dry-run-warning.png",
    ]
