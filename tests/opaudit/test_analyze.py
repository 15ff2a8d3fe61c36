"""`opaudit.analyze` on hand-made operators: which findings, on which targets, from which run."""

import dataclasses

from opaudit import analyze as az
from opaudit import support
from opaudit.findings import Code, ProbeResult, Support
from opaudit.mapping import Explosion
from tests.opaudit.graphs import Op, T, chain

YES = {"cpu": Support("yes"), "xnnpack": Support("yes"), "gpu": Support("yes")}


def _inputs(ops, tensors, **kw):
    return az.Inputs(operators=ops, tensors=tensors, graph_outputs=set(), support_fn=support.support_for, **kw)


def test_node_findings_targets_follow_the_delegates():
    custom = Op("Convolution2DTransposeBias", [0], [1], kind="custom", layer="decoder")
    no_cpu = {**YES, "cpu": Support("no", "no kernel")}
    [f] = az.node_findings(custom, no_cpu)
    assert (f.code, f.targets, f.layer) == (Code.UNRESOLVED_CUSTOM_OP, ("cpu", "xnnpack", "gpu"), "decoder")
    [f] = az.node_findings(custom, no_cpu, taken=("xnnpack",))
    assert f.targets == ("cpu", "gpu") and "taken by xnnpack" in f.message
    flex = Op("FlexCropAndResize", [0], [1], kind="flex", tf_op="CropAndResize")
    [f] = az.node_findings(flex, no_cpu, taken=("xnnpack",))
    assert f.code == Code.FLEX_OP and f.targets == ("cpu", "xnnpack", "gpu")  # nothing takes Flex
    assert az.node_findings(Op("ADD", [0, 0], [1]), YES) == []


def test_probe_failure_is_charged_to_its_run():
    ops = chain(["ADD", "MyOp"])
    static = []
    stock = ProbeResult("prepare_failed", "rt", stage="allocate", resolver="stock",
                        error="Encountered unresolved custom op: MyOp. Node number 1 (MyOp) failed to prepare.")
    [f] = az.probe_findings(stock, ops, static, ("cpu",))
    assert (f.code, f.index, f.targets, f.detail["named_by_runtime"]) == (Code.PROBE_PREPARE_FAILED, 1, ("cpu",), "prepare")
    crash = ProbeResult("crashed", "rt", error="died with SIGSEGV", resolver="default")
    [f] = az.probe_findings(crash, ops, static, ("xnnpack",))
    assert f.code == Code.PROBE_CRASHED and f.targets == ("xnnpack",) and "XNNPACK" in f.message
    assert az.probe_findings(dataclasses.replace(stock, status="ok"), ops, static) == []


def test_runtime_run_overrides_stale_static_data():
    f = az.node_findings(Op("NEW_OP", [0], [1]), {**YES, "cpu": Support("no", "unknown builtin")})[0]
    ok = ProbeResult("ok", "rt", resolver="stock")
    [g] = az.runtime_overrides([f], {"cpu": ok})
    assert g.targets == ("xnnpack", "gpu") and g.detail["runtime_disagrees"] == ["cpu"]
    unmeasured = dataclasses.replace(ok, note="invoke not measured: the probe crashed in the default run")
    assert az.runtime_overrides([f], {"cpu": unmeasured}) == [f]


def test_explosion_names_its_pattern():
    nodes = tuple((0, i) for i in range(8))
    td = az.explosion_finding(Explosion("mrcnn_class_conv1", "CONV_2D", 8, "slices", nodes, "rois"))
    assert td.severity == "warning" and "'rois'" in td.message and "TimeDistributed emits" in td.message
    named = az.explosion_finding(Explosion("time_distributed", "CONV_2D", 8, "slices", nodes))
    assert "Keras 3 TimeDistributed unroll" in named.message
    loop = az.explosion_finding(Explosion("cqt", "CONV_2D", 8, "loop", nodes))
    assert loop.severity == "info" and "TimeDistributed" not in loop.message and loop.nodes() == list(nodes)


def test_analyze_gpu_blocks_by_node_and_xnnpack_warns():
    tensors = [T(0), T(1, "int64"), T(2)]
    ops = [Op("CAST", [0], [1], index=0), Op("CAST", [1], [2], index=1)]
    a = az.analyze(_inputs(ops, tensors))
    gpu = [f for f in a.findings if f.code == Code.GPU_UNSUPPORTED]
    assert len(gpu) == 1 and gpu[0].nodes() == [(0, 0), (0, 1)] and gpu[0].targets == ("gpu",)
    assert a.delegation["gpu"].verdict == "no" and a.delegation["gpu"].source == "predicted"
    assert all(f.severity == "warning" for f in a.findings if f.code == Code.XNNPACK_UNSUPPORTED)


def test_analyze_uses_measured_xnnpack_partitions():
    tensors = [T(i) for i in range(4)]
    ops = chain(["ADD", "EQUAL", "ADD"])
    default = ProbeResult("ok", "rt", resolver="default",
                          delegate_nodes=({"index": 3, "inputs": [0], "outputs": [1]},
                                          {"index": 4, "inputs": [2], "outputs": [3]}))
    a = az.analyze(_inputs(ops, tensors, probes={"xnnpack": default}))
    x = a.delegation["xnnpack"]
    assert (x.source, len(x.partitions), x.splitters) == ("measured", 2, ((0, 1),))
    [w] = [f for f in a.findings if f.code == Code.XNNPACK_UNSUPPORTED]
    assert w.op == "EQUAL" and w.detail["source"] == "measured"


def test_dynamic_finding_respects_facts():
    tensors = [T(0, sig=(-1, 8, 8, 3))]
    assert az.dynamic_finding(tensors, support.NO_FACTS)[0].code == Code.DYNAMIC_SHAPE
    assert az.dynamic_finding(tensors, support.GraphFacts(dynamic=frozenset())) == []
    [f] = az.dynamic_finding(tensors, support.GraphFacts(dynamic=frozenset({(0, 0)})))
    assert "even with the given --input-shape" in f.message


def _conv(x_sig, kernel, out_sig, op="CONV_2D", node_name=None, tf_name=None):
    """A conv-like node 0 reading tensor 0 (input) and 1 (kernel), writing 2."""
    tensors = {(0, 0): T(0, shape=tuple(max(d, 1) for d in x_sig), sig=x_sig),
               (0, 1): T(1, shape=kernel, const=True),
               (0, 2): T(2, shape=tuple(max(d, 1) for d in out_sig), sig=out_sig)}
    node = dataclasses.replace(Op(op, [0, 1, 3], [2], layer="activation_33"), node_name=node_name, tf_name=tf_name)
    return [node], tensors


def test_full_window_conv_names_the_convolution_layer():
    fused = ("model_1/activation_33_1/Relu;model_1/mrcnn_class_bn1_1/FusedBatchNormV3;"
             "model_1/mrcnn_class_conv1_1/convolution1")
    ops, tensors = _conv((-1, 7, 7, 256), (1024, 7, 7, 256), (-1, 1, 1, 1024), node_name=fused,
                         tf_name="model_1/activation_33_1/Relu")
    [f] = az.full_window_conv_findings(ops, tensors)
    assert (f.code, f.severity, f.targets, f.layer, f.index) == (Code.FULL_WINDOW_CONV, "info", (), "mrcnn_class_conv1", 0)
    assert f.detail == {"input": [-1, 7, 7, 256], "kernel": [1024, 7, 7, 256],
                        "tf_name": "model_1/mrcnn_class_conv1_1/convolution1"}
    assert "7x7 kernel covers the whole 7x7 input" in f.message and "mrcnn_class_conv1" in f.message
    # 1x1 over 1x1 is the same case; without a conv name the node's own layer stays
    ops, tensors = _conv((2, 1, 1, 64), (32, 1, 1, 64), (2, 1, 1, 32))
    [f] = az.full_window_conv_findings(ops, tensors)
    assert f.layer == "activation_33" and f.detail["kernel"] == [32, 1, 1, 64]


def test_full_window_conv_only_when_the_window_is_the_input():
    same_size = _conv((1, 7, 7, 8), (16, 7, 7, 8), (1, 7, 7, 16))  # SAME padding: 49 windows
    smaller = _conv((1, 9, 9, 8), (16, 7, 7, 8), (1, 3, 3, 16))
    dynamic_h = _conv((1, -1, 7, 8), (16, 7, 7, 8), (1, -1, 1, 16))
    other_channels = _conv((1, 7, 7, 4), (16, 7, 7, 8), (1, 1, 1, 16))
    depthwise = _conv((1, 7, 7, 8), (1, 7, 7, 8), (1, 1, 1, 8), op="DEPTHWISE_CONV_2D")
    for ops, tensors in (same_size, smaller, dynamic_h, other_channels, depthwise):
        assert az.full_window_conv_findings(ops, tensors) == []


def test_full_window_conv_is_a_hint_that_blocks_nothing():
    ops, tensors = _conv((1, 7, 7, 8), (16, 7, 7, 8), (1, 1, 1, 16))
    result = az.analyze(_inputs(ops, list(tensors.values())))
    [f] = [f for f in result.findings if f.code == Code.FULL_WINDOW_CONV]
    assert not any(f.blocks(t) for t in ("cpu", "xnnpack", "gpu"))
