"""The readiness settings reach the readiness resource from the environment, the PostgreSQL URL unprinted."""

from __future__ import annotations

import dagster as dg

from pc_release.definitions import build_resources
from pc_release.settings import Settings


def test_readiness_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("PC_RELEASE_POSTGRES_URL", "postgresql://release:hunter2@db.internal/postgres")
    monkeypatch.setenv("PC_RELEASE_CANONICAL_REMOTES", "origin, github ,")
    monkeypatch.setenv("PC_RELEASE_RELEASE_WORKTREE", "/srv/release-worktree")

    settings = Settings()

    assert settings.canonical_remotes == ["origin", "github"]
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())
    readiness = build_resources(settings)["readiness"]
    # Bound as an EnvVar: the resource config the UI shows names the variable, never the password.
    assert isinstance(readiness.postgres_url, dg.EnvVar)
    assert readiness.postgres_url.get_value() == "postgresql://release:hunter2@db.internal/postgres"
    assert "hunter2" not in repr(readiness)
    assert readiness.release_worktree == "/srv/release-worktree"
    assert readiness.canonical_remotes == ["origin", "github"]


def test_readiness_defaults_start_a_throwaway_server_and_check_nothing_else():
    readiness = build_resources(Settings())["readiness"]
    assert (readiness.postgres_url, readiness.release_worktree, readiness.canonical_remotes) == (None, None, [])
