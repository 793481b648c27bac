"""RunScopedIOManager on a real Dagster instance: each run reads the values it produced, later runs still find
the latest value, and storing a value writes nothing to the event log but Dagster's own output events."""

import os
import pickle
from pathlib import Path

import dagster as dg
import pytest

from pc_release.resources.run_storage import RUNS_DIR, RunScopedIOManager
from pc_release_tests.conftest import seeded_instance


class Pick(dg.Config):
    value: str


@dg.asset
def picked(config: Pick) -> str:
    return config.value


@dg.asset
def echoed(picked: str) -> str:
    return f"echo {picked}"


@pytest.fixture
def instance(tmp_path: Path):
    with seeded_instance(tmp_path / "home") as instance:
        yield instance


def _defs(base_dir: Path) -> dg.Definitions:
    return dg.Definitions(
        assets=[picked, echoed],
        resources={"io_manager": RunScopedIOManager(base_dir=str(base_dir))},
        jobs=[
            dg.define_asset_job("both", selection=["picked", "echoed"]),
            dg.define_asset_job("downstream", selection=["echoed"]),
        ],
    )


def _run(defs: dg.Definitions, instance: dg.DagsterInstance, value: str) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("both").execute_in_process(
        run_config={"ops": {"picked": {"config": {"value": value}}}}, instance=instance
    )


def test_each_run_keeps_its_own_values_and_the_latest_one(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    defs = _defs(tmp_path / "storage")
    first = _run(defs, instance, "one")
    second = _run(defs, instance, "two")

    assert first.output_for_node("echoed") == "echo one"
    assert second.output_for_node("echoed") == "echo two"
    runs = tmp_path / "storage" / RUNS_DIR
    assert pickle.loads((runs / first.run_id / "picked").read_bytes()) == "one"
    assert pickle.loads((runs / second.run_id / "picked").read_bytes()) == "two"
    # The instance-wide file sits where Dagster's FilesystemIOManager keeps it, with the newest value.
    assert pickle.loads((tmp_path / "storage" / "picked").read_bytes()) == "two"

    later = defs.resolve_job_def("downstream").execute_in_process(instance=instance)
    assert later.output_for_node("echoed") == "echo two"


def test_a_re_execution_reads_its_parent_runs_value_not_a_newer_runs(
    tmp_path: Path, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STORAGE_ENV, str(tmp_path / "storage"))
    defs = _defs(tmp_path / "storage")
    parent = _run(defs, instance, "parent")
    _run(defs, instance, "newer")

    options = dg.ReexecutionOptions(parent_run_id=parent.run_id, step_selection=["echoed"])
    with dg.execute_job(
        dg.reconstructable(_job_from_env),
        instance,
        run_config={
            "execution": {"config": {"in_process": {}}},
            "ops": {"picked": {"config": {"value": "not run"}}},
        },
        reexecution_options=options,
    ) as result:
        assert result.success
        rerun = result.run_id
    stored = tmp_path / "storage" / RUNS_DIR / rerun / "echoed"
    assert pickle.loads(stored.read_bytes()) == "echo parent"


def test_storing_values_adds_no_log_lines(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    result = _run(_defs(tmp_path / "storage"), instance, "quiet")

    logs = [entry.user_message for entry in instance.all_logs(result.run_id) if not entry.is_dagster_event]
    assert not [message for message in logs if "Writing file" in message], logs
    handled = [event for event in result.all_events if event.event_type == dg.DagsterEventType.HANDLED_OUTPUT]
    assert len(handled) == 2


STORAGE_ENV = "PC_RELEASE_TEST_RUN_STORAGE"


def _job_from_env() -> dg.JobDefinition:
    return _defs(Path(os.environ[STORAGE_ENV])).resolve_job_def("both")
