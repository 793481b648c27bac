"""ReadinessResource: where the readiness checks find PostgreSQL, the release worktree and the canonical remotes."""

from __future__ import annotations

import dagster as dg
from pydantic import Field


class ReadinessResource(dg.ConfigurableResource):
    """Settings of the readiness checks; every field is optional and has a working default."""

    postgres_url: str | None = Field(
        default=None,
        description="An existing PostgreSQL server (needs CREATEDB) for the schema checks; unset: pc-release "
        "starts a throwaway server with initdb/pg_ctl for each run.",
    )
    release_worktree: str | None = Field(
        default=None, description="The operator's release worktree, checked for pending release-only edits."
    )
    canonical_remotes: list[str] = Field(
        default_factory=list,
        description="Remotes whose master must already contain the SHA, besides the one pc-release promotes on.",
    )
