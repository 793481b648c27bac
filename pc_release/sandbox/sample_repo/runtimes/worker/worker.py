"""Platform-Control worker: periodically reconciles platform role bindings into node-agent grants."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request


def desired_grants(bindings: list[dict]) -> dict[str, list[str]]:
    """Subject -> sorted roles, the shape node agents consume."""
    grants: dict[str, set[str]] = {}
    for binding in bindings:
        grants.setdefault(binding["subject"], set()).add(binding["role"])
    return {subject: sorted(roles) for subject, roles in sorted(grants.items())}


def fetch_bindings(api_url: str, user: str) -> list[dict]:
    request = urllib.request.Request(f"{api_url}/v1/platform-roles/bindings", headers={"X-Platform-User": user})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def main() -> int:
    api_url = os.environ.get("PLATFORM_API_URL", "http://api:8080")
    user = os.environ.get("WORKER_SERVICE_USER", "platform-worker")
    interval = float(os.environ.get("WORKER_RECONCILE_SECONDS", "30"))
    while True:
        grants = desired_grants(fetch_bindings(api_url, user))
        print(json.dumps({"event": "reconciled", "subjects": len(grants)}), flush=True)
        time.sleep(interval)


if __name__ == "__main__":
    sys.exit(main())
