"""Aggregation of raw worker timings into a Profile: pure functions, synthetic data."""

import pytest

from opaudit.findings import Operator
from opaudit.profile.aggregate import build_profile, group, recommend, runtime_settings
from opaudit.profile.result import NodeTime, WholeModelTime


def op(sg, i, name, layer=None):
    return Operator(subgraph=sg, index=i, op=name, kind="builtin", version=1, inputs=(), outputs=(), layer=layer)


OPS = [op(0, 0, "CONV_2D", "backbone"), op(0, 1, "CONV_2D", "head"), op(0, 2, "ADD", "head"),
       op(0, 3, "WHILE"), op(1, 0, "LESS"), op(2, 0, "FULLY_CONNECTED", "loop_body")]
FLOPS = {(0, 0): 4e9, (0, 1): 1e9, (2, 0): 5e8}


def flops(o):
    return int(FLOPS.get((o.subgraph, o.index), 0))


RAW = {
    "runtime": "ai_edge_litert 2.3.0", "threads": 1, "runs": 3, "modes": ["xnnpack", "builtin"],
    "whole": [{"threads": 1, "mode": "xnnpack", "median_s": 0.05, "runs_s": [0.05], "delegate_partitions": 2},
              {"threads": 2, "mode": "xnnpack", "median_s": 0.04, "runs_s": [0.04], "delegate_partitions": 2},
              {"threads": 1, "mode": "builtin", "median_s": 0.2, "runs_s": [0.2], "delegate_partitions": 0}],
    "overhead_s": {"xnnpack": 0.001, "builtin": 0.0},
    "ceiling": [{"threads": 1, "mode": "xnnpack", "gflops": 200.0}],
    "nodes": [
        {"index": 0, "seconds": {"xnnpack": 0.021, "builtin": 0.1}, "exact": True, "max_abs_diff": 0.0, "delegated": True, "calls": [], "error": None},
        {"index": 1, "seconds": {"xnnpack": 0.011, "builtin": 0.05}, "exact": True, "max_abs_diff": 0.0, "delegated": True, "calls": [], "error": None},
        {"index": 2, "seconds": {"xnnpack": 0.002, "builtin": 0.002}, "exact": False, "max_abs_diff": 1e-7, "delegated": False, "calls": [], "error": None},
        {"index": 3, "seconds": {"xnnpack": 0.01, "builtin": 0.01}, "exact": True, "max_abs_diff": 0.0, "delegated": False, "calls": [1, 2], "error": None},
    ],
}


def profile(**kw):
    return build_profile(RAW, OPS, flops, path="m.tflite", peak=(400.0, "nominal"), top=kw.get("top", 10),
                         conditions={"cores": 2})


def test_op_types_sum_nodes_and_rate_against_peak_and_ceiling():
    p = profile()
    by = {g.name: g for g in p.op_types}
    assert [g.name for g in p.op_types] == ["CONV_2D", "WHILE", "ADD"]
    conv = by["CONV_2D"]
    assert conv.nodes == 2 and conv.seconds == pytest.approx({"xnnpack": 0.032, "builtin": 0.15})
    assert conv.flops == 5_000_000_000 and conv.gflops_per_s == pytest.approx(5 / 0.032)
    assert conv.over_peak == pytest.approx(5 / 0.032 / 400) and conv.over_ceiling == pytest.approx(5 / 0.032 / 200)
    assert conv.share == pytest.approx(0.032 / 0.044)
    assert by["ADD"].gflops_per_s is None and by["ADD"].over_peak is None
    assert sum(g.share for g in p.op_types) == pytest.approx(1.0)


def test_control_flow_node_carries_its_subgraphs_flops():
    p = profile()
    (w,) = [n for n in p.nodes if n.op == "WHILE"]
    assert w.flops == 500_000_000 and "1, 2" in w.flops_note
    assert p.nested_nodes == 2 and p.total_flops == 5_500_000_000


def test_trust_subtracts_overhead_and_counts_exact_nodes():
    p = profile()
    x = {t.mode: t for t in p.trust}
    assert x["xnnpack"].node_sum_s == pytest.approx(0.020 + 0.010 + 0.001 + 0.009)
    assert x["xnnpack"].ratio == pytest.approx(0.040 / 0.05)
    assert x["builtin"].ratio == pytest.approx(0.162 / 0.2)
    assert (x["xnnpack"].exact_nodes, x["xnnpack"].compared_nodes, x["xnnpack"].untimed_nodes) == (3, 4, 0)


def test_hotspots_and_layers_ranked_and_cut_at_top():
    p = profile(top=2)
    assert [(h.index, h.layer) for h in p.hotspots] == [(0, "backbone"), (1, "head")]
    assert [g.name for g in p.layers] == ["backbone", "head"] and p.layers[1].nodes == 2


def test_recommendation_is_the_fastest_measured_setting():
    p = profile()
    assert p.recommended == {"num_threads": 2, "xnnpack": True, "median_s": 0.04, "speedup_over_default": pytest.approx(1.25)}
    rt = runtime_settings(p)
    assert rt["recommended"]["num_threads"] == 2 and len(rt["measured"]) == 3
    assert recommend([]) == {}
    only_builtin = [WholeModelTime(threads=1, mode="builtin", median_s=1.0, runs_s=[1.0], delegate_partitions=0)]
    assert recommend(only_builtin)["speedup_over_default"] is None


def test_group_drops_none_keys_and_handles_zero_time():
    nodes = [NodeTime(0, 0, "A", None, None, 10, {"xnnpack": 0.0}), NodeTime(0, 1, "B", "L", None, 0, {"xnnpack": 0.0})]
    g = group(nodes, lambda n: n.layer, "xnnpack", 100.0)
    assert [x.name for x in g] == ["L"] and g[0].share == 0.0 and g[0].gflops_per_s is None


def test_to_dict_is_plain_json():
    import json

    d = profile().to_dict()
    assert json.loads(json.dumps(d)) == d and d["op_types"][0]["name"] == "CONV_2D"
