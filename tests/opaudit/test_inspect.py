"""Exact findings on small models that contain the ops people trip over."""

import json

import pytest

from opaudit.errors import UsageError
from opaudit.inspect import inspect_model


def blocking(report):
    return [(f.code, f.subgraph, f.index, f.op, f.layer) for f in report.blocking()]


def test_flex_model(models):
    r = inspect_model(str(models["flex"]))
    assert blocking(r) == [
        ("FLEX_OP", 0, 2, "FlexCropAndResize", "roi_align"),
        ("FLEX_OP", 0, 7, "FlexDenseToDenseSetOperation", "set_layer"),
    ]
    first = r.blocking()[0]
    assert "Select TensorFlow op" in first.error and first.detail["named_by_runtime"] == "prepare"
    assert r.blocking()[1].error is None  # found statically, the runtime stopped at the first
    ops = {o.op: o for o in r.operators}
    assert ops["FlexCropAndResize"].layer_source == "flex_nodedef"
    assert r.verdicts()["needs_flex"] == "yes"
    assert r.support["FlexCropAndResize"]["cpu"].status == "no"


def test_custom_model(models):
    r = inspect_model(str(models["custom"]))
    assert blocking(r) == [
        ("UNRESOLVED_CUSTOM_OP", 0, 2, "CropAndResize", "roi_align"),
        ("UNRESOLVED_CUSTOM_OP", 0, 7, "DenseToDenseSetOperation", "set_layer"),
    ]
    assert r.probe.status == "prepare_failed"


def test_invoke_time_failure(models):
    r = inspect_model(str(models["where_custom"]))
    assert r.probe.status == "invoke_failed"
    assert blocking(r) == [("UNRESOLVED_CUSTOM_OP", 0, 8, "CropAndResize", None)]
    assert "unresolved custom op" in r.blocking()[0].error


def test_clean_model_is_clean(models):
    r = inspect_model(str(models["clean"]))
    assert r.blocking() == [] and r.probe.status == "ok"
    # the output node lost its scoped name; its weights (made inside the layer) still carry it
    assert [(o.layer, o.layer_source) for o in r.operators] == [
        ("c1", "tensor_name"), ("gap", "tensor_name"), ("head", "inputs")]
    dbg = inspect_model(str(models["clean_dbg"]))
    assert [(o.layer, o.layer_source) for o in dbg.operators] == [
        ("c1", "debug_metadata"), ("gap", "debug_metadata"), ("head", "debug_metadata")]


def test_nms_padding_trap(models):
    r = inspect_model(str(models["nms"]))
    codes = [(f.code, f.index, f.op) for f in r.findings if f.code == "NMS_PADDED_OUTPUT"]
    assert codes == [("NMS_PADDED_OUTPUT", 0, "NON_MAX_SUPPRESSION_V4")]
    assert r.blocking() == []


def test_dynamic_map_fn(models):
    simple = inspect_model(str(models["map_fn"]), input_shapes={"x": [5]})
    assert simple.blocking() == [] and simple.probe.inputs[0]["shape"] == [5]
    r = inspect_model(str(models["map_flex"]))
    assert sorted({(f.code, f.op) for f in r.blocking()}) == [
        ("FLEX_OP", "FlexTensorListReserve"), ("FLEX_OP", "FlexTensorListSetItem"), ("FLEX_OP", "FlexTensorListStack")]
    assert {f.subgraph for f in r.blocking()} == {0, 2}  # one lives inside the WHILE body


def test_op_explosion(models):
    r = inspect_model(str(models["td"]))
    boom = [(f.layer, f.op, f.detail["count"]) for f in r.findings if f.code == "OP_EXPLOSION"]
    assert boom == [("mrcnn_class_conv1", "CONV_2D", 12)]


def test_json_schema(models):
    d = json.loads(json.dumps(inspect_model(str(models["flex"])).to_dict()))
    assert d["schema_version"] == 1
    assert {"operators", "findings", "probe", "support", "verdicts", "tensors"} <= set(d)
    op = d["operators"][2]
    assert {k: op[k] for k in ("subgraph", "index", "op", "kind", "version", "layer")} == {
        "subgraph": 0, "index": 2, "op": "FlexCropAndResize", "kind": "flex", "version": 1, "layer": "roi_align"}


def test_bad_options(models):
    with pytest.raises(UsageError, match="no input named"):
        inspect_model(str(models["clean"]), input_shapes={"nope": [1]})
    with pytest.raises(UsageError, match="unknown target"):
        inspect_model(str(models["clean"]), target="tpu")


def test_gpu_target_policy(models):
    r = inspect_model(str(models["map_fn"]), target="gpu", probe=False)
    assert r.blocking("cpu") == []
    assert r.blocking("gpu")  # WHILE / dynamic shapes: not delegated to the GPU
