"""Fixtures for the production-grade tests: a real PostgreSQL and the Dagster instance pc-release ships for it."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import dagster as dg
import pytest

from pc_release_tests.production.postgres import running_postgres

INSTANCE_DIR = Path(__file__).resolve().parents[2] / "pc_release" / "instance"
SINGLE_HOST_YAML = INSTANCE_DIR / "production-single-host.dagster.yaml"


@pytest.fixture(scope="session")
def postgres():
    with running_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def production_home(postgres):
    """A DAGSTER_HOME holding the shipped single-host production config, its credentials in the environment."""
    home = Path(tempfile.mkdtemp(prefix="pc-release-dagster-home-"))
    shutil.copy(SINGLE_HOST_YAML, home / "dagster.yaml")
    with pytest.MonkeyPatch.context() as env:
        for name, value in postgres.env.items():
            env.setenv(name, value)
        yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_instance(production_home):
    with dg.DagsterInstance.from_config(str(production_home)) as instance:
        yield instance
