"""Automation: promotion of the master head SHA after its CI goes green."""
