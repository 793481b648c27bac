"""Everywhere a leaked GitLab token could surface after a run, searched for it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

import dagster as dg


def _forms(secret: str) -> list[bytes]:
    """The secret as written, and URL-encoded (as it would appear in a logged request URL)."""
    return sorted({secret.encode(), quote(secret, safe="").encode()})


def instance_texts(instance: dg.DagsterInstance, run_ids: Iterable[str] | None = None) -> Iterable[tuple[str, str]]:
    """Each run's record (config, tags) and every event (messages, metadata, check results, errors)."""
    runs = instance.get_runs() if run_ids is None else [instance.get_run_by_id(run_id) for run_id in run_ids]
    for run in runs:
        yield f"run {run.run_id}", dg.serialize_value(run)
        for record in instance.all_logs(run.run_id):
            yield f"event {record.dagster_event_type or 'log'} of run {run.run_id}", dg.serialize_value(record)


def find_leaks(
    secrets: Iterable[str],
    *,
    instances: Iterable[dg.DagsterInstance] = (),
    run_ids: Iterable[str] | None = None,
    texts: Iterable[tuple[str, str]] = (),
    dirs: Iterable[Path] = (),
) -> list[str]:
    """Where any of `secrets` appears: event log, metadata, records, exception messages, output, files."""
    forms = [form for secret in secrets if secret for form in _forms(secret)]
    leaks = []
    run_ids = None if run_ids is None else list(run_ids)
    named = [text for instance in instances for text in instance_texts(instance, run_ids)]
    for where, text in [*named, *texts]:
        if any(form in text.encode(errors="replace") for form in forms):
            leaks.append(where)
    for root in dirs:
        for path in Path(root).rglob("*"):
            if path.is_file() and not path.is_symlink() and any(form in path.read_bytes() for form in forms):
                leaks.append(str(path))
    return leaks
