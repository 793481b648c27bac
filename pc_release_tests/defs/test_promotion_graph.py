"""The promotion's graph: the local preflight and release readiness are siblings after the primary gate, and the
push waits for both, so a multiprocess run pays for the slower of the two, not their sum."""

import dagster as dg

from pc_release.definitions import build_definitions


def parents(graph, name: str) -> set[str]:
    return {key.to_user_string() for key in graph.get(dg.AssetKey(name)).parent_keys}


def test_preflight_and_readiness_are_siblings_and_the_push_waits_for_both():
    graph = build_definitions().resolve_job_def("promote_release").asset_layer.asset_graph
    assert "release_readiness" not in parents(graph, "local_preflight")
    assert "local_preflight" not in parents(graph, "release_readiness")
    assert parents(graph, "local_preflight") == parents(graph, "release_readiness") == {"master_ci"}
    assert parents(graph, "release_branch") == {"local_preflight", "release_readiness"}
