"""Dagster definitions, one folder per domain; pc_release.definitions wires them together."""
