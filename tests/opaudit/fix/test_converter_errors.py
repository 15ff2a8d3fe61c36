"""Converter errors -> structured, layer-mapped dicts (one real tiny failing conversion)."""

import pytest

from opaudit.fix.converter_errors import parse_errors
from opaudit.fix.layer_paths import resolve_layer, resolve_location

PATHS = {"roi_pool", "conv_1", "conv", "rpn_model", "rpn_model/rpn_conv_shared", "detect"}


@pytest.mark.parametrize("name, layer", [
    ("tiny_detector_1/roi_pool_1/CropAndResize@__inference_function_544", "roi_pool"),
    ("model/conv_1_1/Conv2D", "conv_1"),  # a layer really named conv_1, Keras 3 suffix _1
    ("model/conv_2/Conv2D", "conv"),  # second call of layer "conv"
    ("model_1/rpn_model_1/rpn_conv_shared_1/BiasAdd", "rpn_model/rpn_conv_shared"),
    ("model/detect_1/map/while/NonMaxSuppressionV3", "detect"),
    ("StatefulPartitionedCall_1", None),
])
def test_resolve_layer(name, layer):
    assert resolve_layer(name, PATHS) == layer


def test_resolve_location_walks_the_call_chain():
    calls = ["map/while/body/CropAndResize@__inference_body_12", "model_1/roi_pool_1/map/while@x",
             "StatefulPartitionedCall_1"]
    assert resolve_location(calls, PATHS) == "roi_pool"


def test_real_failing_conversion_is_parsed(tmp_path, monkeypatch):
    import tempfile

    import keras
    import tensorflow as tf

    from opaudit.fix.converter import pinned_converter

    class Roi(keras.layers.Layer):
        def call(self, x, boxes):
            b = boxes[0]
            return tf.image.crop_and_resize(x, b, tf.zeros([tf.shape(b)[0]], tf.int32), [2, 2])[None]

    img = keras.Input((8, 8, 1), name="img")
    bx = keras.Input((3, 4), name="bx")
    y = Roi(name="roi_pool")(keras.layers.Conv2D(1, 1, name="conv")(img), bx)
    model = keras.Model([img, bx], y, name="m")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    sig = [{"name": "img", "shape": [1, 8, 8, 1], "dtype": "float32"},
           {"name": "bx", "shape": [1, 3, 4], "dtype": "float32"}]
    with pytest.raises(Exception) as info, pinned_converter(model, sig) as conv:
        conv.convert()
    assert not list(tmp_path.glob("opaudit-export-*"))  # the exported SavedModel is removed
    [err] = parse_errors(info.value, {"conv", "roi_pool"})
    assert err["code"] == "ERROR_NEEDS_FLEX_OPS"
    assert err["op"] == "tf.CropAndResize" and err["tf_op"] == "CropAndResize"
    assert err["layer"] == "roi_pool"
    assert "roi_pool" in err["location"] and err["calls"][0] == err["location"]


def test_unstructured_exception():
    [err] = parse_errors(RuntimeError("something\nerror: Lowering tensor list ops is failed"), set())
    assert err["code"] == "UNSTRUCTURED" and err["tf_op"] == "TensorListReserve"
