"""The release record in the Dagster UI: its `record` Markdown is a short headline (Dagster opens a Markdown entry
focused on its Close button below the text, so a long one opened scrolled to its end), and the gates, stages,
runtimes and checklist are tables beside it whose outcome columns say "failed" in words for a failed release.
The JSON record and the demo's printed record keep every gate, stage and checklist item."""

import io
import json

import dagster as dg

from pc_release.defs.pipeline.record import GateRecord, ReleaseRecord, render_headline
from pc_release.sandbox.demo import print_record
from pc_release_tests.pipeline.harness import dist_dir, finish_stage, history, meta, release, released

TABLES = {
    "gates": ["gate", "outcome", "detail"],
    "stages": ["stage", "title", "outcome", "status", "duration_seconds", "jobs", "hints"],
    "runtimes": ["runtime", "outcome", "digest", "publish_job", "job_url"],
    "checklist": ["item", "status", "evidence"],
}
# The record's headline may grow by a line or two, never back to every gate and stage; under 1000 characters
# Dagster shows it inline (a longer one only behind a "[Show Markdown]" dialog).
HEADLINE_LINES = 15
HEADLINE_CHARS = 1000


def _latest(instance: dg.DagsterInstance) -> dg.AssetMaterialization | dg.AssetObservation:
    """The newest release record: a materialization if it was a release, else an observation."""
    return history(instance, "release_record")[-1].asset_event


def _rows(metadata, name: str) -> list[dict]:
    return [record.data for record in metadata[name].records]


def _saved(world, metadata) -> dict:
    path = dist_dir(world) / f"platform-control-release-record-{metadata['pipeline_id'].value}.json"
    return json.loads(path.read_text())


def test_a_released_record_shows_a_short_headline_and_its_gates_stages_and_checklist_as_tables(
    platform, instance, driver
):
    world, server = platform
    sha = released(world, server, instance, driver)
    metadata = _latest(instance).metadata
    saved = _saved(world, metadata)

    headline = metadata["record"]
    assert isinstance(headline, dg.MarkdownMetadataValue)
    lines = headline.value.strip().splitlines()
    assert len(lines) <= HEADLINE_LINES and len(headline.value) < HEADLINE_CHARS, headline.value
    assert lines[0] == f"## released: `{sha}`"
    assert f"]({saved['pipeline_url']}) — success" in headline.value
    assert "mode: full; profile: standard" in headline.value
    assert "operator: not recorded" in headline.value and saved["promotion_run_id"] in headline.value
    assert "- failed:" not in headline.value
    assert "master_ci_green_on_exact_sha" not in headline.value  # the gates are the table's, not the headline's
    assert headline.value.rstrip().endswith("- details: the tables `gates`, `stages`, `runtimes`, `checklist`")

    for name, columns in TABLES.items():
        table = metadata[name]
        assert isinstance(table, dg.TableMetadataValue), name
        assert [column.name for column in table.schema.columns] == columns
        assert all(column.description for column in table.schema.columns)
    # The tables carry what the JSON record carries, in its order: the gate registry's, then stages and pipeline.
    assert [(r["gate"], r["outcome"]) for r in _rows(metadata, "gates")] == [
        (g["name"], g["outcome"]) for g in saved["gates"]
    ]
    assert _rows(metadata, "gates")[0]["gate"] == "reachable_from_master"
    assert [r["stage"] for r in _rows(metadata, "stages")] == [s["stage"] for s in saved["stages"]]
    assert {r["stage"]: r["outcome"] for r in _rows(metadata, "stages")} == {
        "contracts": "passed",
        "build_test": "passed",
        "package": "passed",
        "digest_fan_in": "passed",
        "deployment": "passed",
        "remote_validation": "passed",
    }
    assert {r["runtime"]: r["outcome"] for r in _rows(metadata, "runtimes")} == {"api": "published", "web": "published"}
    assert [(r["item"], r["status"]) for r in _rows(metadata, "checklist")] == [
        (c["item"], c["status"]) for c in saved["checklist"]
    ]
    assert _rows(metadata, "checklist")[0]["item"] == "Intended fix is on master"

    # The demo prints the whole record from the JSON file: every gate and checklist item, as before.
    out = io.StringIO()
    print_record(meta(history(instance, "release_record")[-1]), out)
    printed = out.getvalue()
    assert f"## released: `{sha}`" in printed and saved["pipeline_url"] in printed
    assert "| master_ci_green_on_exact_sha | passed |" in printed
    assert "### Stages" in printed and "### Operator checklist" in printed
    assert all(f"| {c['item']} | {c['status']} |" in printed for c in saved["checklist"])


def test_a_failed_release_reads_failed_in_its_headline_and_tables(platform, instance, driver):
    world, server = platform
    pid, out = release(world, server, instance)
    sha = out.candidate["PLATFORM_CONTROL_RELEASE_SHA"]
    finish_stage(server, pid, "contracts", status="failed")
    for _ in range(3):
        driver.tick()
    metadata = _latest(instance).metadata
    assert metadata["pipeline_id"].value == pid

    headline = metadata["record"].value
    assert len(headline.strip().splitlines()) <= HEADLINE_LINES and len(headline) < HEADLINE_CHARS, headline
    assert headline.startswith(f"## failed: `{sha}`")
    assert f"/-/pipelines/{pid}) — failed" in headline
    failed_line = next(line for line in headline.splitlines() if line.startswith("- failed: "))
    assert "stage contracts" in failed_line and "final_validation" in failed_line

    stages = {r["stage"]: r for r in _rows(metadata, "stages")}
    assert (stages["contracts"]["outcome"], stages["contracts"]["status"]) == ("failed", "failed")
    assert all(job.endswith(" failed") for job in stages["contracts"]["jobs"].split(", "))
    # The stages after it never ran: they read "skipped", none "passed".
    assert {name: row["outcome"] for name, row in stages.items() if name != "contracts"} == dict.fromkeys(
        ("build_test", "package", "digest_fan_in", "deployment", "remote_validation"), "skipped"
    )
    assert {r["runtime"]: r["outcome"] for r in _rows(metadata, "runtimes")} == dict.fromkeys(
        ("api", "web"), "publish skipped"
    )
    gates = {r["gate"]: r["outcome"] for r in _rows(metadata, "gates")}
    assert gates["stage contracts"] == "failed"
    assert gates["final_validation"] == "failed"
    assert gates["master_ci_green_on_exact_sha"] == "passed"  # the promotion's own gates did pass

    # However many gates fail, the headline names a few and counts the rest: it still shows inline.
    record = ReleaseRecord.model_validate(_saved(world, metadata))
    many = [GateRecord(name=f"gate_{n}_" + "x" * 40, outcome="failed", detail="") for n in range(30)]
    long_headline = render_headline(record.model_copy(update={"gates": record.gates + many}))
    assert "- failed: stage contracts, final_validation, gate_0_" in long_headline
    assert "and 27 more" in long_headline and len(long_headline) < HEADLINE_CHARS
