"""A snapshot of the code location: every asset, check, job, sensor and schedule build_definitions() loads, so any
change to the graph shows in review as a change to code_location_snapshot.txt."""

from __future__ import annotations

import difflib
from pathlib import Path

import dagster as dg
import pytest

from pc_release.definitions import build_definitions

SNAPSHOT = Path(__file__).with_name("code_location_snapshot.txt")


def _key(key: dg.AssetKey | dg.AssetCheckKey) -> str:
    if isinstance(key, dg.AssetCheckKey):
        return f"{key.asset_key.to_user_string()}:{key.name}"
    return key.to_user_string()


def _names(keys) -> str:
    return ", ".join(sorted(_key(key) for key in keys)) or "-"


def snapshot(defs: dg.Definitions) -> list[str]:
    """The code location as sorted lines, one per asset, check, sensor and schedule, and per job its selection."""
    graph = defs.resolve_asset_graph()
    lines = ["assets"]
    for key in sorted(graph.get_all_asset_keys(), key=_key):
        node = graph.get(key)
        partitions = f"  partitions={node.partitions_def}" if node.partitions_def else ""
        lines.append(f"  {_key(key)}  group={node.group_name}  upstream={_names(node.parent_keys)}{partitions}")
    lines.append("checks")
    for key in sorted(graph.asset_check_keys, key=_key):
        lines.append(f"  {_key(key)}  {'blocking' if graph.get(key).blocking else 'non-blocking'}")
    lines.append("jobs")
    # __ASSET_JOB is Dagster's implicit job over every asset, not one of the code location's jobs.
    for job in sorted((j for j in defs.resolve_all_job_defs() if not j.name.startswith("__")), key=lambda j: j.name):
        layer = job.asset_layer
        lines.append(f"  {job.name}")
        lines += [f"    asset {_key(key)}" for key in sorted(layer.selected_asset_keys, key=_key)]
        lines += [f"    check {_key(key)}" for key in sorted(layer.asset_graph.asset_check_keys, key=_key)]
    lines.append("sensors")
    for name in sorted(sensor.name for sensor in defs.sensors):
        sensor = defs.resolve_sensor_def(name)
        jobs = ", ".join(sorted(target.job_name for target in sensor.targets)) or "-"
        # The assets a sensor declares it reports: the UI lists the sensor as their automation.
        reports = f"  assets={_names(sensor.asset_selection.resolve(graph))}" if sensor.asset_selection else ""
        lines.append(
            f"  {name}  job={jobs}{reports}  default={sensor.default_status.value}"
            f"  minimum_interval={sensor.minimum_interval_seconds}s"
        )
    lines.append("schedules")
    for name in sorted(schedule.name for schedule in defs.schedules):
        schedule = defs.resolve_schedule_def(name)
        lines.append(
            f'  {name}  cron="{schedule.cron_schedule}"  timezone={schedule.execution_timezone}'
            f"  job={schedule.job_name}  default={schedule.default_status.value}"
        )
    return lines


def test_the_code_location_matches_its_snapshot():
    expected = [line for line in SNAPSHOT.read_text().splitlines() if not line.startswith("#")]
    actual = snapshot(build_definitions())
    if actual != expected:
        diff = "\n".join(difflib.unified_diff(expected, actual, SNAPSHOT.name, "build_definitions()", lineterm=""))
        pytest.fail(
            f"the code location differs from {SNAPSHOT.name}; if the change is intended, update the file:\n{diff}",
            pytrace=False,
        )
