"""RunScopedIOManager: a run's steps read the asset values that run produced, never a concurrent run's."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import dagster as dg

from pc_release.resources.files import atomic_write

# A dot cannot appear in an asset name, so this directory never collides with an asset's own file.
RUNS_DIR = ".runs"


def _producing_run(context: dg.InputContext) -> str | None:
    upstream = context.upstream_output
    if upstream is None:
        return None
    try:
        return upstream.run_id
    except dg.DagsterInvariantViolationError:
        return None


def _run_scoped(context: dg.InputContext | dg.OutputContext) -> bool:
    return context.has_asset_key and not context.has_asset_partitions


class _RunScopedPickles(dg.IOManager):
    def __init__(self, latest: dg.IOManager, base_dir: Path) -> None:
        self._latest = latest
        self._base_dir = base_dir
        self._runs = base_dir / RUNS_DIR

    def _path(self, run_id: str, asset_key: dg.AssetKey) -> Path:
        return self._runs.joinpath(run_id, *asset_key.path)

    def _latest_path(self, asset_key: dg.AssetKey) -> Path:
        """Where Dagster's FilesystemIOManager keeps an unpartitioned asset's value (same file, same pickle)."""
        return self._base_dir.joinpath(*asset_key.path)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if not _run_scoped(context):
            self._latest.handle_output(context, obj)
            return
        # Written here rather than through the stock manager, which logs a "Writing file at" line per output:
        # each is an event-log write, seven per promotion, saying nothing the materialization doesn't.
        data = pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)
        atomic_write(self._path(context.run_id, context.asset_key), data, durable=False)
        atomic_write(self._latest_path(context.asset_key), data, durable=False)

    def load_input(self, context: dg.InputContext) -> Any:
        if _run_scoped(context):
            producer = _producing_run(context)
            for path in (
                self._path(producer, context.asset_key) if producer else None,
                self._latest_path(context.asset_key),
            ):
                if path is not None and path.exists():
                    return pickle.loads(path.read_bytes())
        return self._latest.load_input(context)


class RunScopedIOManager(dg.ConfigurableIOManagerFactory):
    """Dagster's filesystem IO manager with every unpartitioned asset value also kept under its run.

    The stock manager keeps one file per asset for the whole instance. Two promotions running at once on
    one DAGSTER_HOME (two operators' `pc-release promote` from different clones, say) then overwrite each
    other's `source_commit`, and a run can push the other run's SHA under its own lease. Here a step loads
    an upstream value from the run that produced it (its own run, or the parent of a re-execution); values
    from earlier runs still come from the shared per-asset file, exactly as before.
    """

    base_dir: str | None = None

    def create_io_manager(self, context: dg.InitResourceContext) -> dg.IOManager:
        base_dir = self.base_dir or context.instance.storage_directory()
        latest = dg.FilesystemIOManager(base_dir=base_dir).create_io_manager(context)
        return _RunScopedPickles(latest, Path(base_dir))
