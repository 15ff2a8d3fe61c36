"""crop_and_resize rule: Flex CropAndResize -> builtin sampling with TF's exact values."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import keras

from rewrites import applied

BILINEAR_OPS = {"ADD", "CAST", "CEIL", "FLOOR", "GATHER", "GREATER_EQUAL", "LESS_EQUAL",
                "LOGICAL_AND", "MUL", "RESHAPE", "SELECT_V2",
                "STRIDED_SLICE", "SUB"}
NEAREST_OPS = BILINEAR_OPS - {"CEIL"}
SIG = [tf.TensorSpec([2, 7, 9, 3], tf.float32), tf.TensorSpec([None, 4], tf.float32),
       tf.TensorSpec([None], tf.int32)]


class Crop(keras.layers.Layer):
    """Calls tf.image.crop_and_resize like mrcnn's ROI align layers."""

    def __init__(self, size, method="bilinear", extrapolation_value=0.0, **kw):
        super().__init__(**kw)
        self.size, self.method, self.extrapolation_value = size, method, extrapolation_value

    def call(self, inputs):
        image, boxes, index = inputs
        return tf.image.crop_and_resize(image, boxes, index, self.size, method=self.method,
                                        extrapolation_value=self.extrapolation_value)


def make_model(size, method="bilinear", extrapolation_value=0.0):
    image = keras.Input((7, 9, 3), batch_size=2)
    boxes = keras.Input((4,))
    index = keras.Input((), dtype="int32")
    out = Crop(size, method, extrapolation_value, name="roi_align")([image, boxes, index])
    return keras.Model([image, boxes, index], out)


def boxes_with_edge_cases(rng, n_random=12):
    """Random boxes (partly outside the image, some flipped) plus hand-picked edge cases."""
    fixed = np.array([
        [0.0, 0.0, 1.0, 1.0],  # whole image, samples land exactly on the borders
        [1.0, 1.0, 0.0, 0.0],  # flipped both ways
        [0.6, 0.1, 0.2, 0.9],  # flipped vertically
        [1.2, 1.1, 1.5, 1.9],  # fully outside -> extrapolation_value everywhere
        [-0.5, -0.5, 0.5, 0.5],  # partly outside
        [0.3, 0.3, 0.3, 0.3],  # degenerate (a point)
    ], np.float32)
    rand = rng.uniform(-0.3, 1.3, (n_random, 4)).astype(np.float32)
    boxes = np.concatenate([fixed, rand])
    return boxes, rng.integers(0, 2, len(boxes)).astype(np.int32)


def test_without_rule_conversion_needs_flex(lite):
    with pytest.raises(Exception, match="CropAndResize"):
        lite.convert(make_model([4, 4]), SIG)


@pytest.mark.parametrize("size,method,extrapolation", [
    ([5, 4], "bilinear", 0.0),
    ([1, 1], "bilinear", -1.0),  # crop size 1 samples the box centre
    ([1, 3], "bilinear", 2.5),
    ([4, 6], "nearest", 0.0),
])
def test_builtin_ops_and_same_values(lite, rng, size, method, extrapolation):
    model = make_model(size, method, extrapolation)
    image = rng.random((2, 7, 9, 3), dtype=np.float32)
    boxes, index = boxes_with_edge_cases(rng)
    expected = model([image, boxes, index]).numpy()
    with applied(model, {"roi_align": ["crop_and_resize"]}):
        eager = model([image, boxes, index]).numpy()
        tflite = lite.convert(model, SIG)
    assert lite.op_names(tflite) == (BILINEAR_OPS if method == "bilinear" else NEAREST_OPS)
    np.testing.assert_allclose(eager, expected, atol=1e-5)
    got = lite.run(tflite, image, boxes, index)[0]
    assert got.shape == expected.shape == (len(boxes), *size, 3)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.all(got[3] == extrapolation)
    empty = lite.run(tflite, image, np.zeros((0, 4), np.float32), np.zeros((0,), np.int32))[0]
    assert empty.shape == (0, *size, 3)


def test_integer_image_is_sampled_as_float(rng):
    @tf.function
    def crops(image, boxes, index):
        return tf.image.crop_and_resize(image, boxes, index, [3, 3])

    image = tf.constant(rng.integers(0, 255, (1, 5, 6, 2)), tf.uint8)
    boxes, _ = boxes_with_edge_cases(rng, 4)
    index = np.zeros(len(boxes), np.int32)
    expected = crops(image, boxes, index)
    from rewrites.crop_and_resize import sample_crops

    got = sample_crops(image, boxes, index, 3, 3)
    assert got.dtype == tf.float32
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-4)


def test_dynamic_image_size(lite, rng):
    """mrcnn's feature maps have unknown H and W (`Input([None, None, 3])`)."""
    image = keras.Input((None, None, 2), batch_size=1)
    boxes, index = keras.Input((4,)), keras.Input((), dtype="int32")
    model = keras.Model([image, boxes, index], Crop([3, 3], name="roi_align")([image, boxes, index]))
    sig = [tf.TensorSpec([1, None, None, 2]), tf.TensorSpec([None, 4]), tf.TensorSpec([None], tf.int32)]
    with applied(model, {"roi_align": ["crop_and_resize"]}):
        tflite = lite.convert(model, sig)
    assert lite.op_names(tflite) == BILINEAR_OPS | {"SHAPE"}
    for height, width in ((6, 11), (13, 4)):
        data = rng.random((1, height, width, 2), dtype=np.float32)
        b, _ = boxes_with_edge_cases(rng)
        i = np.zeros(len(b), np.int32)
        np.testing.assert_allclose(lite.run(tflite, data, b, i)[0], model([data, b, i]).numpy(),
                                   atol=1e-5)


@pytest.mark.parametrize("method", ["bilinear", "nearest"])
def test_many_shapes_match_the_kernel(rng, method):
    """Eager sweep over image and crop sizes: same values and the same extrapolated samples."""
    from rewrites.crop_and_resize import sample_crops

    for height, width, crop_h, crop_w in [(1, 1, 2, 2), (2, 3, 1, 4), (5, 8, 7, 3), (9, 4, 2, 1),
                                          (16, 16, 14, 14), (3, 30, 5, 9)]:
        image = rng.normal(size=(3, height, width, 2)).astype(np.float32)
        boxes, _ = boxes_with_edge_cases(rng, 20)
        index = rng.integers(0, 3, len(boxes)).astype(np.int32)
        want = tf.image.crop_and_resize(image, boxes, index, [crop_h, crop_w], method=method,
                                        extrapolation_value=-7.0).numpy()
        got = sample_crops(image, boxes, index, crop_h, crop_w, method, -7.0).numpy()
        np.testing.assert_array_equal(got == -7.0, want == -7.0)
        np.testing.assert_allclose(got, want, atol=1e-5)
