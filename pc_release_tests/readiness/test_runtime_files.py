"""ConfigMap keys the runtime manifests read, and the runtime config keys they must find."""

from __future__ import annotations

import pytest

from pc_release.readiness.runtime_files import config_key_refs, config_keys
from pc_release.sandbox.sample import SAMPLE_REPO_TEMPLATE

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
        - name: gateway
          env:
            - name: WS_PATH
              valueFrom:
                configMapKeyRef:
                  name: platform-config
                  key: TERMINAL_WS_PATH
            - name: DEBUG
              valueFrom:
                configMapKeyRef: {name: platform-config, key: DEBUG_TOOLBAR, optional: true}
            - name: LITERAL
              value: plain
      volumes:
        - name: config
          configMap:
            name: gateway-files
            items:
              - key: listener.conf
                path: listener.conf
---
apiVersion: v1
kind: Service
metadata: {name: gateway}
---
"""


def test_config_key_refs_with_lines_skipping_optional_ones():
    refs = [(ref.key, ref.line, ref.source) for ref in config_key_refs(MANIFEST)]
    assert refs == [
        ("TERMINAL_WS_PATH", 13, "configMapKeyRef platform-config"),
        ("listener.conf", 24, "configMap volume gateway-files"),
    ]


def test_sample_terminal_gateway_manifest_reads_every_runtime_key():
    manifest = (SAMPLE_REPO_TEMPLATE / "deploy/overlays/platform-control/terminal-gateway.yaml").read_text()
    keys = config_keys((SAMPLE_REPO_TEMPLATE / "runtimes/terminal-gateway/runtime.yaml").read_text())
    read = {ref.key for ref in config_key_refs(manifest)}
    assert {"TERMINAL_WS_PATH", "TERMINAL_INTERNAL_LISTEN_ADDR"} <= read <= keys


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A: 1\nB: two\n# C: commented\n", {"A", "B"}),
        ("", set()),
        ("nested:\n  inner: 1\n", {"nested"}),
    ],
)
def test_config_keys(text, expected):
    assert config_keys(text) == expected


def test_config_that_is_not_a_mapping_is_refused():
    with pytest.raises(ValueError, match="must be a mapping of config keys, not list"):
        config_keys("- A\n- B\n")
