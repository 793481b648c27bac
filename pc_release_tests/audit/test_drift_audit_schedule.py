"""drift_audit_schedule: hourly unless PC_RELEASE_DRIFT_AUDIT_CRON says otherwise, and it targets drift_audit."""

import pytest

from pc_release.definitions import build_definitions
from pc_release.defs.audit.schedules import drift_audit_schedule_for
from pc_release.errors import ConfigurationError
from pc_release.settings import Settings


def test_the_code_location_audits_hourly_by_default():
    schedule = build_definitions(Settings()).resolve_schedule_def("drift_audit_schedule")
    assert schedule.cron_schedule == "0 * * * *"
    assert schedule.job_name == "drift_audit"


def test_the_cron_comes_from_the_settings_the_code_location_is_built_with(monkeypatch):
    monkeypatch.setenv("PC_RELEASE_DRIFT_AUDIT_CRON", "*/15 6-20 * * 1-5")
    defs = build_definitions(Settings())
    monkeypatch.setenv("PC_RELEASE_DRIFT_AUDIT_CRON", "0 3 * * *")
    assert defs.resolve_schedule_def("drift_audit_schedule").cron_schedule == "*/15 6-20 * * 1-5"
    assert build_definitions(Settings()).resolve_schedule_def("drift_audit_schedule").cron_schedule == "0 3 * * *"


def test_an_invalid_cron_refuses_to_build_the_code_location(monkeypatch):
    monkeypatch.setenv("PC_RELEASE_DRIFT_AUDIT_CRON", "hourly")
    with pytest.raises(ConfigurationError, match="PC_RELEASE_DRIFT_AUDIT_CRON='hourly'"):
        build_definitions(Settings())


@pytest.mark.parametrize("cron", ["hourly", "61 * * * *", "* * *"])
def test_an_invalid_cron_is_a_configuration_error(cron):
    with pytest.raises(ConfigurationError) as err:
        drift_audit_schedule_for(cron)
    assert err.value.rule == "drift-audit-cron"
    assert cron in str(err.value)
