"""The demo end to end, headless: master CI green on the pushed SHA -> promotion -> release pipeline followed by
release_pipeline_sensor -> every stage asset, runtime digest and the release record, with the right SHA and URL.
Then the same sandbox in `dagster dev`, looked at in real Chromium."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from playwright.sync_api import expect, sync_playwright

from pc_release.defs.verdicts import evaluation_status
from pc_release.sandbox.demo import Sandbox, create_sandbox
from pc_release.sandbox.gitlab_server import SandboxGitLab
from pc_release_tests.demo.conftest import DEMO, DemoSandbox, demo_env, run_demo

RELEASE_BRANCH = "release/platform-control"
PROMOTION_ASSETS = (
    "source_commit",
    "master_ci",
    "local_preflight",
    "release_readiness",
    "release_branch",
    "release_candidate",
    "release_pipeline",
)
STAGE_ASSETS = ("contracts", "build_test", "package", "digest_fan_in", "deployment", "remote_validation")
RUNTIMES = ("api", "web", "worker", "terminal-gateway")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _plain(metadata: dict[str, Any]) -> dict[str, Any]:
    return {key: getattr(value, "value", value) for key, value in metadata.items()}


def materializations(instance: dg.DagsterInstance, asset: str, partition: str | None = None) -> list[dg.EventLogRecord]:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition] if partition else None),
        limit=100,
    ).records
    return list(records)


def metadata_for(instance: dg.DagsterInstance, asset: str, **match: Any) -> list[dict[str, Any]]:
    """Metadata of every materialization of `asset` whose metadata holds all of `match`."""
    found = []
    for record in materializations(instance, asset, match.pop("partition", None)):
        metadata = _plain(record.asset_materialization.metadata)
        if all(metadata.get(key) == value for key, value in match.items()):
            found.append(metadata | {"run_id": record.run_id})
    return found


@contextmanager
def sandbox_instance(demo: DemoSandbox) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.from_config(str(demo.root / "dagster")) as instance:
        yield instance


def gitlab_state(demo: DemoSandbox) -> tuple[list[dict], dict[int, list[dict]]]:
    """What the sandbox GitLab recorded: every pipeline, and the jobs of each."""
    with SandboxGitLab(demo.root / "git" / "origin.git", "reader", state_dir=demo.root / "gitlab") as server:
        pipelines = server.pipelines()
        return pipelines, {p["id"]: server.jobs(p["id"]) for p in pipelines}


def origin_git(demo: DemoSandbox | Sandbox, *args: str) -> str:
    origin = demo.root / "git" / "origin.git"
    return subprocess.run(["git", f"--git-dir={origin}", *args], capture_output=True, text=True, check=True).stdout


def test_demo_takes_the_pushed_sha_from_green_master_ci_to_a_release_record(demo_sandbox: DemoSandbox) -> None:
    run = demo_sandbox.runs[0]
    assert run.returncode == 0, run.output
    sha = run.sha
    assert sha is not None
    pipelines, jobs = gitlab_state(demo_sandbox)

    # master CI: the push started a pipeline on exactly that SHA, and it went green before anything else ran.
    master = [p for p in pipelines if p["ref"] == "master" and p["sha"] == sha]
    assert [p["status"] for p in master] == ["success"]
    assert master[0]["source"] == "push"
    assert f"master CI: pipeline {master[0]['id']} is green on {sha}" in run.output

    with sandbox_instance(demo_sandbox) as instance:
        # The promotion: every asset of the promote_release run materialized for that SHA, all gates passed.
        [pipeline_meta] = metadata_for(instance, "release_pipeline", sha=sha)
        promotion = instance.get_run_by_id(pipeline_meta["run_id"])
        assert promotion.job_name == "promote_release"
        assert promotion.status == dg.DagsterRunStatus.SUCCESS
        for asset in PROMOTION_ASSETS:
            [metadata] = [m for m in metadata_for(instance, asset) if m["run_id"] == promotion.run_id]
            assert metadata["sha"] == sha, asset
        [branch] = [m for m in metadata_for(instance, "release_branch") if m["run_id"] == promotion.run_id]
        assert branch["pushed"] is True
        checks = instance.get_records_for_run(
            promotion.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
        evaluations = [r.event_log_entry.dagster_event.event_specific_data for r in checks]
        statuses = {e.check_name: evaluation_status(e) for e in evaluations}
        assert statuses and not [name for name, status in statuses.items() if status == "failed"], run.output
        # The sandbox has no release worktree and no canonical remotes configured: those two checks do not apply,
        # and say so rather than passing.
        not_passed = {name: status for name, status in statuses.items() if status != "passed"}
        assert not_passed == {
            "release_worktree_clean": "not_applicable",
            "source_on_canonical_remotes": "not_applicable",
        }, run.output

        # The release pipeline GitLab ran for that SHA on the release branch, green.
        pipeline_id, pipeline_url = pipeline_meta["pipeline_id"], pipeline_meta["pipeline_url"]
        [release] = [p for p in pipelines if p["id"] == pipeline_id]
        assert (release["ref"], release["sha"], release["status"]) == (RELEASE_BRANCH, sha, "success")
        assert {job["status"] for job in jobs[pipeline_id]} == {"success"}

        # The sensor's stage assets, digests and the record, all for that pipeline and SHA.
        for stage in STAGE_ASSETS:
            [stage_meta] = metadata_for(instance, stage, pipeline_id=pipeline_id)
            assert (stage_meta["sha"], stage_meta["pipeline_url"], stage_meta["stage_status"]) == (
                sha,
                pipeline_url,
                "passed",
            ), stage
        for runtime in RUNTIMES:
            [digest] = metadata_for(instance, "runtime_digest", partition=runtime, pipeline_id=pipeline_id)
            assert digest["sha"] == sha
            assert str(digest["digest"]).startswith("sha256:"), digest
        [record] = metadata_for(instance, "release_record", pipeline_id=pipeline_id)

    assert (record["sha"], record["pipeline_url"], record["status"]) == (sha, pipeline_url, "released")
    assert f"## released: `{sha}`" in record["record"]
    assert pipeline_url in record["record"]
    on_disk = json.loads(Path(record["path"]).read_text())
    assert (on_disk["sha"], on_disk["pipeline_url"], on_disk["status"]) == (sha, pipeline_url, "released")
    gates = {gate["name"]: gate["outcome"] for gate in on_disk["gates"]}
    for gate in ("reachable_from_master", "master_ci_green_on_exact_sha", "candidate_matches_release_branch"):
        assert gates[gate] == "passed", gates

    # What the newcomer reads: progress while waiting, then the record with the SHA, URL and every gate.
    assert "release-branch-guard" in run.output and "running local_preflight" in run.output
    assert "release_pipeline_sensor: materialized release_record (released)" in run.output
    printed_record = run.output[run.output.index("release record (JSON:") :]
    assert f"## released: `{sha}`" in printed_record
    assert pipeline_url in printed_record
    assert "| master_ci_green_on_exact_sha | passed |" in printed_record


def test_rerunning_the_demo_promotes_a_new_master_commit_on_the_same_sandbox(demo_sandbox: DemoSandbox) -> None:
    first, second = demo_sandbox.runs
    assert second.returncode == 0, second.output
    assert f"sandbox {demo_sandbox.root} (reused)" in second.output
    assert second.sha not in (None, first.sha)
    assert origin_git(demo_sandbox, "rev-parse", f"{second.sha}^").strip() == first.sha
    assert origin_git(demo_sandbox, "rev-parse", RELEASE_BRANCH).strip() == second.sha

    with sandbox_instance(demo_sandbox) as instance:
        records = {m["sha"]: m for m in metadata_for(instance, "release_record")}
        [preflight] = metadata_for(instance, "local_preflight", sha=second.sha)
    assert {records[first.sha]["status"], records[second.sha]["status"]} == {"released"}
    assert records[first.sha]["pipeline_id"] != records[second.sha]["pipeline_id"]
    # The policy's variable reached the promotion: the re-run skipped the local preflight and says so.
    assert preflight["status"] == "skipped"


def test_demo_stops_at_red_master_ci_and_shows_the_failed_job(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path / "sandbox")
    sandbox.root.mkdir()
    create_sandbox(sandbox)
    previous_release = origin_git(sandbox, "rev-parse", RELEASE_BRANCH).strip()
    # A change on master that breaks the backend tests: the demo pushes it along with its own commit.
    (sandbox.clone / "runtimes" / "api" / "tests" / "test_release_blocker.py").write_text(
        "import unittest\n\n\nclass ReleaseBlocker(unittest.TestCase):\n"
        "    def test_role_binding(self):\n        self.fail('role binding regression')\n"
    )

    run = run_demo(sandbox.root)

    assert run.returncode == 1, run.output
    assert "pc-release demo: FAILED: master pipeline" in run.output
    assert "ended failed; nothing to promote" in run.output
    assert "job backend-test failed" in run.output and "role binding regression" in run.output
    assert origin_git(sandbox, "rev-parse", RELEASE_BRANCH).strip() == previous_release
    with dg.DagsterInstance.from_config(str(sandbox.dagster_home)) as instance:
        assert instance.get_runs() == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _live_processes_mentioning(text: str) -> list[int]:
    """Processes (zombies aside) whose command line mentions `text`."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            zombie = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
            if not zombie and text in (proc / "cmdline").read_bytes().decode(errors="replace"):
                pids.append(int(proc.name))
        except (OSError, IndexError):
            continue
    return pids


def _wait_until_gone(text: str, timeout: float = 60.0) -> list[int]:
    """Processes still mentioning `text` once they had `timeout` seconds to exit (their children exit last)."""
    deadline = time.monotonic() + timeout
    while (left := _live_processes_mentioning(text)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


@contextmanager
def dagster_ui(demo: DemoSandbox, log: Path, **extra_env: str) -> Iterator[str]:
    """`python -m pc_release.sandbox.demo ui` on the demo's sandbox (with `extra_env` on top of the demo's
    environment) until it says the UI is ready; SIGTERM after, and it must exit cleanly."""
    port = _free_port()
    with open(log, "w") as out:
        process = subprocess.Popen(
            [*DEMO, "ui", "--sandbox", str(demo.root), "--port", str(port), "--gitlab-port", "0"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=demo_env(**extra_env),
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while "Dagster UI ready at" not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"demo ui did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, log.read_text()[-3000:]


def test_dagster_ui_shows_the_lineage_and_the_release_record(demo_sandbox: DemoSandbox, tmp_path: Path) -> None:
    latest = demo_sandbox.runs[-1]
    assert latest.returncode == 0, latest.output
    with sandbox_instance(demo_sandbox) as instance:
        [record] = metadata_for(instance, "release_record", sha=latest.sha)

    with dagster_ui(demo_sandbox, tmp_path / "ui.log") as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{url}/assets/release_record?view=lineage&lineageScope=upstream&lineageDepth=20")
            skip = page.get_by_role("button", name="Skip")
            if skip.count():
                skip.click()
            for asset in (*PROMOTION_ASSETS, "runtime_digest", *STAGE_ASSETS, "release_record"):
                expect(page.get_by_text(asset, exact=True).last).to_be_visible(timeout=60_000)
            page.screenshot(path=str(tmp_path / "lineage.png"))

            page.goto(f"{url}/assets/release_record")
            # The record's headline is short enough for Dagster to show inline (no dialog to open, none opening
            # scrolled to its end); every gate is a row of the `gates` table beside it.
            heading = page.get_by_role("heading", name=f"released: {latest.sha}")
            expect(heading).to_be_visible(timeout=30_000)
            headline = page.locator("td").filter(has=heading).last
            expect(headline.get_by_role("link", name=str(record["pipeline_id"]), exact=True)).to_have_attribute(
                "href", record["pipeline_url"]
            )
            cell = page.get_by_role("cell", name="master_ci_green_on_exact_sha", exact=True)
            gate = page.locator("tr").filter(has=cell).last  # the innermost row: the gates table's own
            expect(gate).to_contain_text("passed")
        finally:
            browser.close()

    assert (tmp_path / "lineage.png").stat().st_size > 0
    # SIGTERM stopped dagster dev, its webserver, daemon and code servers, and the sandbox GitLab with it.
    assert _wait_until_gone(str(demo_sandbox.root)) == []
