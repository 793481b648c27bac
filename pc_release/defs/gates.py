"""Dagster check specs from the gate registry (policy/gates.py): an asset's check_specs, an asset check's arguments."""

from __future__ import annotations

from typing import Any

import dagster as dg

from pc_release.policy.gates import gate, gates_on


def check_specs(asset: str) -> list[dg.AssetCheckSpec]:
    """The checks `asset` computes itself, as its check_specs."""
    return [
        dg.AssetCheckSpec(g.name, asset=g.asset, blocking=g.blocking, description=g.description)
        for g in gates_on(asset)
    ]


def asset_check_args(name: str) -> dict[str, Any]:
    """The @dg.asset_check arguments of a gate run as its own check step."""
    g = gate(name)
    assert g.computed_by == "check", f"{name} is computed by its asset, not by an asset check"
    return {"asset": g.asset, "name": g.name, "blocking": g.blocking, "description": g.description}
