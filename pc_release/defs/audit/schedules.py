"""drift_audit_schedule: the drift audit on a cron from PC_RELEASE_DRIFT_AUDIT_CRON (hourly by default), decided
when the code location is built (pc_release.definitions), never when this module is imported."""

from __future__ import annotations

import dagster as dg

from pc_release.errors import ConfigurationError


def drift_audit_schedule_for(cron: str) -> dg.ScheduleDefinition:
    try:
        return dg.ScheduleDefinition(
            name="drift_audit_schedule",
            job_name="drift_audit",
            cron_schedule=cron,
            execution_timezone="UTC",
            # Read-only and cheap, so it runs as soon as the code location loads.
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description="Audit release/platform-control drift on PC_RELEASE_DRIFT_AUDIT_CRON.",
        )
    except dg.DagsterInvalidDefinitionError as err:
        raise ConfigurationError(
            f"PC_RELEASE_DRIFT_AUDIT_CRON={cron!r} is not a cron schedule (e.g. '0 * * * *' for hourly)",
            rule="drift-audit-cron",
        ) from err
