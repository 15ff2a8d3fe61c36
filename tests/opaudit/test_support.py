"""Op support data (opaudit/data/op_support.json), its evaluation, and the regen parser."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from opaudit import support
from tests.opaudit.graphs import Op, T

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).parent / "fixtures" / "op_support_src"


def _regen():
    spec = importlib.util.spec_from_file_location("regen_op_support", ROOT / "tools" / "regen_op_support.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def conv_graph(dtype="float32", sig=None, quant=None, version=1):
    tensors = [T(0, dtype, sig=sig, quant=quant), T(1, dtype, (4, 3, 3, 3), const=True, quant=quant),
               T(2, "int32" if quant else "float32", (4,), const=True), T(3, dtype, (1, 8, 8, 4), sig=sig, quant=quant)]
    return Op("CONV_2D", [0, 1, 2], [3], version=version), tensors


# ----------------------------------------------------------------------------- data file
def test_data_file_is_versioned_and_sourced():
    d = support.load_support_data()
    assert d["schema"] == 1
    assert d["generated_by"] == "tools/regen_op_support.py"
    assert d["tensorflow_version"] == "2.21.0"
    assert support.data_version() == "TF 2.21.0 sources"
    parsed = [s for s in d["sources"] if s["status"] == "parsed" and s["role"] != "builtin op list"]
    assert {s["role"] for s in parsed} == {"resolver", "flex", "gpu", "xnnpack", "xnnpack custom ops"}
    assert all(len(s["commit"]) == 40 and "/" in s["repo"] for s in parsed)
    assert "Flex delegate" in d["flex"]["statement"]


def test_op_list_covers_every_schema_builtin():
    from ai_edge_litert import schema_py_generated as schema
    names = {k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    assert len(names) == 210
    data = support.load_support_data()["builtins"]
    assert names <= set(data)
    assert all(data[n]["code"] == getattr(schema.BuiltinOperator, n) for n in names)


def test_every_entry_has_the_three_targets():
    for name, e in support.load_support_data()["builtins"].items():
        assert isinstance(e["cpu"]["kernel"], bool), name
        for t in ("xnnpack", "gpu"):
            assert e[t]["status"] in ("yes", "no", "partial"), (name, t)
            assert e[t]["constraints"], (name, t)


def test_flex_allowlist_and_stock_customs():
    assert {"CropAndResize", "NonMaxSuppressionV3", "DenseToDenseSetOperation"} <= support.flex_allowlist()
    assert {"TFLite_Detection_PostProcess", "Mfcc", "AudioSpectrogram"} <= support.stock_custom_ops()
    assert "NonMaxSuppressionV3" not in support.stock_custom_ops()


# ----------------------------------------------------------------------------- known facts
def test_conv2d_float_runs_everywhere():
    op, tensors = conv_graph()
    s = support.support_for(op, tensors)
    assert (s["cpu"].status, s["xnnpack"].status, s["gpu"].status) == ("yes", "yes", "yes")


def test_flex_op_is_no_everywhere():
    op = Op("FlexCropAndResize", [0], [3], kind="flex", tf_op="CropAndResize")
    s = support.support_for(op, conv_graph()[1])
    assert {v.status for v in s.values()} == {"no"}
    assert "Flex delegate" in s["cpu"].reason and "in the Flex allowlist" in s["cpu"].reason


def test_unresolved_custom_nms_v3_cpu_no():
    s = support.support_for(Op("NonMaxSuppressionV3", [0], [3], kind="custom"), conv_graph()[1])
    assert s["cpu"].status == "no" and "no kernel" in s["cpu"].reason
    assert s["gpu"].status == "no" and s["xnnpack"].status == "no"


def test_stock_custom_detection_postprocess_cpu_yes():
    s = support.support_for(Op("TFLite_Detection_PostProcess", [0], [3], kind="custom"), conv_graph()[1])
    assert s["cpu"].status == "yes"


def test_nms_v4_cpu_yes_gpu_no():
    tensors = [T(0, shape=(10, 4)), T(1, shape=(10,)), T(2, "int32", (), const=True),
               T(3, shape=(), const=True), T(4, shape=(), const=True), T(5, "int32", (5,)), T(6, "int32", ())]
    s = support.support_for(Op("NON_MAX_SUPPRESSION_V4", [0, 1, 2, 3, 4], [5, 6]), tensors)
    assert s["cpu"].status == "yes"
    assert s["gpu"].status == "no"
    assert s["xnnpack"].status == "no"


def test_dynamic_shape_blocks_gpu():
    op, tensors = conv_graph(sig=(-1, 8, 8, 3))
    s = support.support_for(op, tensors)
    assert s["gpu"].status == "no" and "dynamic" in s["gpu"].reason
    assert s["cpu"].status == "yes"


def test_version_above_max_and_missing_kernel_are_cpu_no():
    op, tensors = conv_graph(version=99)
    assert support.support_for(op, tensors)["cpu"].status == "no"
    s = support.support_for(Op("STABLEHLO_TANH", [0], [3]), conv_graph()[1])
    assert s["cpu"].status == "no" and "no kernel" in s["cpu"].reason
    assert support.support_for(Op("NOT_AN_OP", [0], [3]), conv_graph()[1])["cpu"].status == "no"


def test_cpu_uses_runtime_scan_when_runtimes_differ():
    d = support.load_support_data()["builtins"]["CAST"]["cpu"]["runtime_versions"]
    ranges = sorted(d.values())
    if ranges[0] == ranges[-1]:
        pytest.skip("runtimes agree on CAST versions")
    hi = max(r[1] for r in ranges)
    s = support.support_for(Op("CAST", [0], [3], version=hi), conv_graph()[1])["cpu"]
    assert s.status == "partial" and "runs on" in s.reason


def test_xnnpack_rejects_int32_and_dynamic_weights():
    tensors = [T(0, "int32"), T(1, "int32"), T(2, "int32")]
    s = support.support_for(Op("ADD", [0, 1], [2]), tensors)["xnnpack"]
    assert s.status == "no" and "float32" in s.reason
    op, tensors = conv_graph()
    tensors[1] = T(1, shape=(4, 3, 3, 3))  # filter computed at run time
    assert support.support_for(op, tensors)["xnnpack"].status == "no"


def test_quantized_conv_is_partial_on_delegates():
    q = {"scale": [0.1], "zero_point": [0]}
    op, tensors = conv_graph("int8", quant=q)
    s = support.support_for(op, tensors)
    assert s["xnnpack"].status == "partial" and s["gpu"].status == "partial"


def test_gpu_rejects_int64_tensors():
    tensors = [T(0, "int64"), T(1, "int64"), T(2, "int64")]
    assert support.support_for(Op("ADD", [0, 1], [2]), tensors)["gpu"].status == "no"


def test_support_table_takes_worst_node():
    op1, tensors = conv_graph()
    dyn_in, dyn_out = T(10, sig=(-1, 8, 8, 3)), T(13, sig=(-1, 8, 8, 4))
    op2 = Op("CONV_2D", [10, 1, 2], [13])
    table = support.support_table([op1, op2], tensors + [dyn_in, dyn_out])
    assert table["CONV_2D"]["gpu"].status == "no"
    assert table["CONV_2D"]["gpu"].reason.startswith("1 of 2 nodes")
    assert table["CONV_2D"]["cpu"].status == "yes"


# ----------------------------------------------------------------------------- regen parser
def test_regen_on_fixture_tree(tmp_path):
    regen = _regen()
    out = tmp_path / "op_support.json"
    assert regen.main(["--tf-src", str(FIXTURE), "--out", str(out)]) == 0
    d = json.loads(out.read_text())
    b = d["builtins"]
    assert d["tensorflow_version"] == "9.9.9" and d["schema"] == 1
    assert b["ADD"]["cpu"] == {"kernel": True, "versions": [1, 4]}
    assert b["CONV_2D"]["cpu"]["versions"] == [1, 6]
    assert b["FAKE_QUANT"]["cpu"]["versions"] == [1, 2]
    assert b["WHILE"]["cpu"]["versions"] == [1, 1]
    assert b["BROADCAST_TO"]["cpu"]["versions"] == [2, 3]
    assert b["RELU"]["cpu"]["kernel"] is False  # commented-out registration
    assert sorted(d["custom"]) == ["Convolution2DTransposeBias", "MaxPoolingWithArgmax2D", "Mfcc", "Resampler",
                                   "TFLite_Detection_PostProcess"]  # "CommentedOut" stays out
    assert d["custom"]["Resampler"]["cpu"]["kernel"] is False
    assert d["custom"]["Convolution2DTransposeBias"]["xnnpack"]["checks"] == {"static_inputs": [1, 2]}
    assert d["custom"]["Convolution2DTransposeBias"]["xnnpack"]["status"] == "yes"
    assert d["custom"]["Mfcc"]["xnnpack"]["status"] == "no"
    assert d["flex"]["allowlist"] == ["Add", "CropAndResize", "DenseToDenseSetOperation"]
    assert d["flex"]["tftext_allowlist"] == ["WhitespaceTokenizeWithOffsets"]
    res = next(s for s in d["sources"] if s["role"] == "resolver")
    assert res["repo"] == "example/fixture" and res["path"] == "tflite/core/kernels/register.cc"


def test_regen_gpu_parser_on_fixture():
    d = _regen().build(FIXTURE)
    b = d["builtins"]
    assert b["RELU"]["gpu"]["status"] == b["RELU6"]["gpu"]["status"] == "yes"  # shared case body
    assert b["ADD"]["gpu"]["status"] == "partial" and "two input tensors" in b["ADD"]["gpu"]["constraints"]
    assert "fused activation NONE/RELU6" in b["CONV_2D"]["gpu"]["constraints"]
    assert b["CONV_2D"]["gpu"]["io"] == [[1, None, 1], [2, None, 1]]
    assert b["REDUCE_MAX"]["gpu"]["io"] == [[1, 1, 1]]
    assert "axes must be a constant int32" in b["REDUCE_MAX"]["gpu"]["constraints"]
    assert b["WHILE"]["gpu"]["status"] == "no"
    assert d["custom"]["Resampler"]["gpu"]["io"] == [[2, None, 1]]


def test_regen_xnnpack_parser_on_fixture():
    regen = _regen()
    md = (FIXTURE / "tensorflow/lite/delegates/xnnpack/README.md").read_text()
    parsed = regen.parse_xnnpack(md)
    assert set(parsed) == {"ADD", "CONV_2D", "DEQUANTIZE"}  # MEAN sits under "Sparse Inference"
    assert parsed["CONV_2D"]["fp32"][2].endswith("allocation type).")  # continuation line joined
    b = regen.build(FIXTURE)["builtins"]
    assert b["CONV_2D"]["xnnpack"]["checks"] == {"bias_required": True, "static_inputs": [1, 2]}
    assert b["ADD"]["xnnpack"]["checks"] == {"num_inputs": [2]} and "quantized" in b["ADD"]["xnnpack"]
    assert b["DEQUANTIZE"]["xnnpack"]["status"] == "partial"
    assert b["WHILE"]["xnnpack"]["status"] == "no"


def test_regen_reports_missing_sources(tmp_path):
    (tmp_path / "tensorflow/lite/schema").mkdir(parents=True)
    (tmp_path / "tensorflow/lite/schema/schema.fbs").write_text("enum BuiltinOperator : int32 { ADD = 0 }")
    d = _regen().build(tmp_path, version="1.0")
    assert d["builtins"]["ADD"]["gpu"]["status"] == "unknown"
    assert all(s["status"].startswith("not found") for s in d["sources"] if s["role"] != "builtin op list")


# ----------------------------------------------------------------------------- graph facts
def fp16_conv():
    """DEQUANTIZE(fp16 weights) -> CONV_2D: the layout of fp16-quantized models."""
    tensors = [T(0), T(1, "float16", (4, 3, 3, 3), const=True), T(2, shape=(4, 3, 3, 3)),
               T(3, "float16", (4,), const=True), T(4, shape=(1, 8, 8, 4)), T(5, shape=(4,))]
    ops = [Op("DEQUANTIZE", [1], [2], index=0), Op("DEQUANTIZE", [3], [5], index=1),
           Op("CONV_2D", [0, 2, 5], [4], index=2)]
    return ops, tensors


def test_fp16_dequantize_folds_for_both_delegates():
    ops, tensors = fp16_conv()
    bare = [support.support_for(o, tensors) for o in ops]
    assert bare[0]["xnnpack"].status == "no" and bare[2]["xnnpack"].status == "no"  # without the fold
    assert bare[2]["gpu"].status == "no"  # weights and bias looked like runtime inputs
    facts = support.graph_facts(ops, tensors)
    assert set(facts.folded) == {(0, 2), (0, 5)}
    folded = [support.support_for(o, tensors, facts) for o in ops]
    assert [s["xnnpack"].status for s in folded] == ["yes", "yes", "yes"]
    assert [s["gpu"].status for s in folded] == ["yes", "yes", "yes"]
    assert "FP16GraphPartitionHelper" in folded[0]["gpu"].reason
    assert folded[0]["cpu"].status == "yes"


def test_int8_dequantize_is_not_folded():
    tensors = [T(0, "int8", (4,), const=True, quant={"scale": [0.1], "zero_point": [0]}), T(1, shape=(4,))]
    ops = [Op("DEQUANTIZE", [0], [1])]
    assert support.graph_facts(ops, tensors).folded == {}


def test_mediapipe_custom_ops_are_taken_by_xnnpack():
    tensors = [T(0), T(1, shape=(3, 2, 2, 4), const=True), T(2, shape=(3,), const=True), T(3, shape=(1, 16, 16, 3))]
    s = support.support_for(Op("Convolution2DTransposeBias", [0, 1, 2], [3], kind="custom"), tensors)
    assert s["cpu"].status == "no" and s["xnnpack"].status == "yes"
    dyn_weights = tensors[:1] + [T(1, shape=(3, 2, 2, 4))] + tensors[2:]
    s = support.support_for(Op("Convolution2DTransposeBias", [0, 1, 2], [3], kind="custom"), dyn_weights)
    assert s["xnnpack"].status == "no" and "constant" in s["xnnpack"].reason
    assert support.support_for(Op("NonMaxSuppressionV3", [0], [3], kind="custom"), tensors)["xnnpack"].status == "no"


def test_facts_decide_what_is_dynamic():
    op, tensors = conv_graph(sig=(-1, 8, 8, 3))
    still = support.GraphFacts(dynamic=frozenset({(0, 0)}))
    assert support.support_for(op, tensors, still)["gpu"].status == "no"
    fixed = support.GraphFacts(dynamic=frozenset())
    assert support.support_for(op, tensors, fixed)["gpu"].status == "yes"
