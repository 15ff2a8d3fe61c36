"""Registry look-ups, third-party loading, and `applied()` scoping/restoring on live models."""

from __future__ import annotations

import importlib.metadata
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
import keras
from tensorflow.python.ops import gen_image_ops

import rewrites
from rewrites import applied, find_layer, load_rules, rules_for_tf_op
from rewrites import registry

BUILTIN = {"crop_and_resize", "map_fn", "nms", "set_operation", "time_distributed"}


class Crop(keras.layers.Layer):
    def call(self, inputs):
        image, boxes = inputs
        return tf.image.crop_and_resize(image, boxes, tf.zeros([tf.shape(boxes)[0]], tf.int32), [2, 2])


class Block(keras.layers.Layer):
    """A subclassed layer holding a sublayer that calls the API."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.inner = Crop(name="crop")

    def call(self, inputs):
        return self.inner(inputs) * 2.0


def two_crops():
    """Functional model with two layers calling crop_and_resize, one nested in a sub-model."""
    image, boxes = keras.Input((5, 5, 1), batch_size=1), keras.Input((4,))
    sub_image, sub_boxes = keras.Input((5, 5, 1), batch_size=1), keras.Input((4,))
    sub = keras.Model([sub_image, sub_boxes], Crop(name="crop")([sub_image, sub_boxes]), name="inner")
    a = Crop(name="crop_a")([image, boxes])
    b = sub([image, boxes])
    return keras.Model([image, boxes], [a, b], name="outer")


def graph_ops(model):
    """(op type, op name) of the traced graph of `model` on `[1,5,5,1]` images and `[N,4]` boxes."""
    fn = tf.function(lambda i, b: model([i, b]))
    cf = fn.get_concrete_function(tf.TensorSpec([1, 5, 5, 1]), tf.TensorSpec([None, 4]))
    return [(op.type, op.name) for op in cf.graph.get_operations()]


def crop_op_names(model):
    return [name for kind, name in graph_ops(model) if kind == "CropAndResize"]


def test_builtin_rules_registered_and_documented():
    rules = {r.name: r for r in rewrites.all_rules()}
    assert BUILTIN <= set(rules)
    for name in BUILTIN:
        assert rules[name].codes and rules[name].emits and len(rules[name].doc) > 80


@pytest.mark.parametrize("op", ["CropAndResize", "FlexCropAndResize", "tf.CropAndResize"])
def test_rules_for_tf_op_strips_prefixes(op):
    assert [r.name for r in rules_for_tf_op(op)] == ["crop_and_resize"]


def test_other_lookups():
    assert [r.name for r in rules_for_tf_op("FlexDenseToDenseSetOperation")] == ["set_operation"]
    assert [r.name for r in rules_for_tf_op("NonMaxSuppressionV3")] == ["nms"]
    assert [r.name for r in rules_for_tf_op("tf.TensorListReserve")] == ["map_fn"]
    assert rules_for_tf_op("Conv2D") == []
    assert [r.name for r in rewrites.rules_for_code("NMS_PADDED_OUTPUT")] == ["nms"]
    assert [r.name for r in rewrites.rules_for_code("OP_EXPLOSION")] == ["time_distributed"]


def test_import_does_not_load_tensorflow():
    code = "import sys, rewrites; rewrites.all_rules(); print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(pathlib.Path(rewrites.__file__).parents[1]))
    assert out.stdout.strip() == "False", out.stderr


def test_applied_patches_only_the_named_layer():
    model = two_crops()
    assert len(crop_op_names(model)) == 2
    with applied(model, {"crop_a": ["crop_and_resize"]}) as records:
        remaining = crop_op_names(model)
    assert records == [{"rule": "crop_and_resize", "layer": "crop_a", "layer_type": "Crop", "declined": []}]
    assert len(remaining) == 1 and "crop_a" not in remaining[0]
    with applied(model, {"inner/crop": ["crop_and_resize"]}):
        remaining = crop_op_names(model)
    assert len(remaining) == 1 and "crop_a" in remaining[0]


def test_converter_sees_only_the_unpatched_layer(lite):
    model = two_crops()
    sig = [tf.TensorSpec([1, 5, 5, 1]), tf.TensorSpec([None, 4])]
    with applied(model, {"outer/crop_a": ["crop_and_resize"]}):
        with pytest.raises(Exception, match="CropAndResize") as err:
            lite.convert(model, sig)
    places = [c.name for e in err.value.errors for c in e.location.call]
    assert any("inner" in p for p in places) and not any("crop_a" in p for p in places), places
    with applied(model, {"crop_a": ["crop_and_resize"], "inner/crop": ["crop_and_resize"]}):
        tflite = lite.convert(model, sig)
    image = np.arange(25, dtype=np.float32).reshape(1, 5, 5, 1)
    boxes = np.array([[0.1, 0.2, 0.9, 0.7], [1.0, 0.0, 0.0, 1.0]], np.float32)
    for got, want in zip(lite.run(tflite, image, boxes), model([image, boxes])):
        np.testing.assert_allclose(got, want.numpy(), atol=1e-5)


def test_restores_everything_even_on_error():
    model = two_crops()
    original = gen_image_ops.crop_and_resize
    layer = model.get_layer("crop_a")
    with pytest.raises(RuntimeError, match="boom"):
        with applied(model, {"crop_a": ["crop_and_resize"]}):
            assert gen_image_ops.crop_and_resize is not original
            assert "call" in layer.__dict__
            raise RuntimeError("boom")
    assert gen_image_ops.crop_and_resize is original
    assert "call" not in layer.__dict__
    assert len(crop_op_names(model)) == 2


def test_nested_applied_on_the_same_layer_restores_in_order():
    model = two_crops()
    original = gen_image_ops.crop_and_resize
    with applied(model, {"crop_a": ["crop_and_resize"]}):
        with applied(model, {"crop_a": ["nms"], "inner/crop": ["crop_and_resize"]}):
            assert crop_op_names(model) == []
        assert len(crop_op_names(model)) == 1
    assert gen_image_ops.crop_and_resize is original and len(crop_op_names(model)) == 2


def test_unknown_or_ambiguous_names_are_clear_errors():
    model = two_crops()
    original = gen_image_ops.crop_and_resize
    with pytest.raises(ValueError, match="no layer 'roi_align'.*crop_a"):
        with applied(model, {"roi_align": ["crop_and_resize"]}):
            pass
    with pytest.raises(ValueError, match="unknown rewrite rule 'crop'.*crop_and_resize"):
        with applied(model, {"crop_a": ["crop"]}):
            pass
    assert gen_image_ops.crop_and_resize is original and "call" not in find_layer(model, "crop_a").__dict__
    assert find_layer(model, "crop").name == "crop"  # unique bare name inside the sub-model
    for traced_name in ("crop_a_1", "outer_1/crop_a_1", "outer/crop_a"):  # Keras 3 scope names
        assert find_layer(model, traced_name) is model.get_layer("crop_a")
    with pytest.raises(ValueError, match="no layer 'inner/crop_a'"):
        find_layer(model, "inner/crop_a")
    twice = keras.Model(model.inputs, [*model.outputs, model.get_layer("inner")(model.inputs)])
    assert find_layer(twice, "inner/crop") is find_layer(model, "inner/crop")
    sub = model.get_layer("inner")
    image, boxes = sub.inputs
    other = keras.Model([image, boxes], Crop(name="crop")([image, boxes]), name="other")
    both = keras.Model([image, boxes], [sub([image, boxes]), other([image, boxes])])
    with pytest.raises(ValueError, match="ambiguous.*inner/crop.*other/crop"):
        find_layer(both, "crop")
    assert find_layer(both, "other/crop") is not find_layer(both, "inner/crop")


def test_subclassed_model_paths():
    class Net(keras.Model):
        def __init__(self):
            super().__init__(name="net")
            self.block = Block(name="block")
            self.other = Crop(name="other")

        def call(self, inputs):
            return self.block(inputs) + self.other(inputs)

    net = Net()
    net([tf.zeros([1, 5, 5, 1]), tf.zeros([2, 4])])
    assert len(crop_op_names(net)) == 2
    with applied(net, {"block/crop": ["crop_and_resize"]}):
        left = crop_op_names(net)
    assert len(left) == 1 and "other" in left[0]
    with applied(net, {"block": ["crop_and_resize"]}):  # a parent's rules cover its sublayers
        left = crop_op_names(net)
    assert len(left) == 1 and "other" in left[0]


def test_load_rules_from_file_registers_a_third_party_rule(tmp_path):
    path = tmp_path / "my_rules.py"
    path.write_text(textwrap.dedent('''
        from rewrites import rule

        @rule(tf_ops=("Relu",), codes=("GPU_UNSUPPORTED",), emits=("MAXIMUM",),
              patches=("tf.nn.relu",))
        def relu_as_maximum(original, features, name=None):
            """max(x, 0) is relu for every real x (NaN aside)."""
            import tensorflow as tf
            return tf.maximum(features, tf.zeros_like(features), name=name)
    '''))
    try:
        load_rules([str(path)])
        assert [r.name for r in rules_for_tf_op("FlexRelu")] == ["relu_as_maximum"]
        load_rules([str(path)])  # loading the same file again replaces, does not clash
        x = keras.Input((3,))
        model = keras.Model(x, keras.layers.Lambda(lambda t: tf.nn.relu(t), name="act")(x))
        with applied(model, {"act": ["relu_as_maximum"]}):
            cf = tf.function(model).get_concrete_function(tf.TensorSpec([1, 3]))
            value = model(np.array([[-1.0, 0.0, 2.0]], np.float32)).numpy()
        kinds = {op.type for op in cf.graph.get_operations()}
        assert "Maximum" in kinds and "Relu" not in kinds
        np.testing.assert_array_equal(value, [[0.0, 0.0, 2.0]])
    finally:
        registry._RULES.pop("relu_as_maximum", None)
    with pytest.raises(ValueError, match="not found"):
        load_rules([str(tmp_path / "missing.py")])


def test_load_rules_imports_entry_points(tmp_path, monkeypatch):
    package = tmp_path / "acme_rules"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent('''
        from rewrites import rule

        @rule(tf_ops=("Erf",), codes=("FLEX_OP",), emits=("TANH",), patches=("tf.math.erf",))
        def acme_erf(original, x, name=None):
            """Placeholder rule for the loading test; keeps the original op."""
            return original(x, name=name)
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    point = importlib.metadata.EntryPoint(
        name="acme", value="acme_rules", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry.importlib.metadata, "entry_points",
                        lambda group=None: [point] if group == registry.ENTRY_POINT_GROUP else [])
    try:
        load_rules()
        assert [r.name for r in rules_for_tf_op("FlexErf")] == ["acme_erf"]
        assert registry.get_rule("acme_erf").module == "acme_rules"
    finally:
        registry._RULES.pop("acme_erf", None)
        registry._LOADED_ENTRY_POINTS.discard("acme=acme_rules")
        sys.modules.pop("acme_rules", None)
