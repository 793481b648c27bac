"""Drift audit of release/platform-control, the web-fast gate, and the dry-run promotion plan."""
