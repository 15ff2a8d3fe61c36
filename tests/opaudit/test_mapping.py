"""`opaudit.mapping` on hand-made operators: scopes -> layers, and explosion patterns."""

from opaudit import mapping
from tests.opaudit.graphs import Op

KERAS3 = ["functional_1/roi_align_1/CropAndResize", "functional_1/backbone_1/conv_1/Conv2D"]


def test_layer_of_keras3_and_tf_keras():
    assert mapping.detect_keras3(KERAS3)
    assert not mapping.detect_keras3(["model/ROI/NonMaxSuppressionV3", "model/conv/Conv2D"])
    assert mapping.layer_of(KERAS3[0], keras3=True) == "roi_align"
    assert mapping.layer_of("model/ROI/rpn/NonMaxSuppressionV3", keras3=False) == "ROI"
    assert mapping.layer_of("map/while/NonMaxSuppressionV3", keras3=False) is None
    assert mapping.layer_of("short/name", keras3=False) is None


def test_map_layers_sources_in_order_of_trust():
    ops = [Op("FlexCropAndResize", [0], [1], kind="flex", index=0), Op("ADD", [1, 2], [3], index=1),
           Op("MUL", [3, 4], [5], index=2), Op("Custom", [5, 6], [7], kind="custom", index=3)]
    names = {0: ["in", "functional_1/x_1/a", "c", "functional_1/add_1/Add;functional_1/add_1/y",
                 "w", "out", "functional_1/head_1/const", "StatefulPartitionedCall_1:0"]}
    out = mapping.map_layers(ops, names, {(0, 0): "functional_1/roi_1/CropAndResize"},
                             debug_names={(0, 2): "functional_1/mul_layer_1/Mul"},
                             constant=lambda s, t: t in (2, 4, 6))
    assert [(o.layer, o.layer_source) for o in out] == [
        ("roi", "flex_nodedef"), ("add", "tensor_name"), ("mul_layer", "debug_metadata"), ("head", "inputs")]
    assert out[3].tf_name is None and out[1].tf_name == "functional_1/add_1/Add"


def _conv(i, data_in, out, weight=50, layer="td"):
    return Op("CONV_2D", [data_in, weight], [out], index=i, layer=layer)


def test_explosion_patterns():
    weight = lambda s, t: t >= 50  # noqa: E731
    # slices: 8 STRIDED_SLICE of tensor 0 -> 8 CONV_2D sharing weight 50
    sl = [Op("STRIDED_SLICE", [0, 40, 41], [10 + i], index=i, layer="td") for i in range(8)]
    convs = [_conv(8 + i, 10 + i, 20 + i) for i in range(8)]
    [e] = mapping.explosions(sl + convs, weight, tensor_names={0: [f"t{i}" for i in range(100)]})
    assert (e.layer, e.op, e.count, e.pattern, e.source) == ("td", "CONV_2D", 8, "slices", "t0")
    # loop: conv i reads what came out of the previous step (0 -> c -> pool -> c -> ...)
    loop, t = [], 0
    for i in range(8):
        loop += [_conv(2 * i, t, t + 1, layer="cqt"), Op("AVERAGE_POOL_2D", [t], [t + 2], index=2 * i + 1, layer="cqt")]
        t += 2
    assert [x.pattern for x in mapping.explosions(loop, weight)] == ["loop"]
    # shared: 8 parallel inputs (graph inputs 0..7), same weights
    shared = [_conv(i, i, 20 + i, layer="siamese") for i in range(8)]
    assert [x.pattern for x in mapping.explosions(shared, weight)] == ["shared"]
    assert mapping.explosions(shared[:7], weight) == []  # below min_nodes
