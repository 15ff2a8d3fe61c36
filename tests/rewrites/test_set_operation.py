"""set_operation rule: Flex DenseToDenseSetOperation -> comparisons; same SparseTensor as TF."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import keras

from rewrites import applied

SET_OPS = {"EQUAL", "LESS", "LOGICAL_AND", "LOGICAL_NOT", "REDUCE_ANY", "SUM", "SELECT_V2",
           "WHERE", "GATHER_ND", "CAST", "SHAPE", "STRIDED_SLICE", "PACK",
           "CONCATENATION", "REDUCE_MAX", "ZEROS_LIKE"}
DENSE_OPS = {"SPARSE_TO_DENSE", "RESHAPE"}  # tf.sparse.to_dense in the test layers


class Sets(keras.layers.Layer):
    """Row-wise set operation on `[rows, n]` int tensors; returns the sparse parts and dense form."""

    def __init__(self, operation, **kw):
        super().__init__(**kw)
        self.operation = operation

    def call(self, inputs):
        a, b = inputs
        if self.operation == "intersection":
            s = tf.sets.intersection(a, b)
        elif self.operation == "union":
            s = tf.sets.union(a, b)
        else:
            s = tf.sets.difference(a, b, aminusb=self.operation == "a-b")
        return s.indices, s.values, s.dense_shape, tf.sparse.to_dense(s, default_value=-1)


class KeepBoth(keras.layers.Layer):
    """mrcnn's detection-layer idiom: intersect two 1-D index lists of dynamic length."""

    def call(self, inputs):
        a, b = inputs
        keep = tf.sets.intersection(tf.expand_dims(a, 0), tf.expand_dims(b, 0))
        return tf.sparse.to_dense(keep)[0]


def make_model(operation):
    a, b = keras.Input((6,), dtype="int32"), keras.Input((5,), dtype="int32")
    return keras.Model([a, b], Sets(operation, name="sets")([a, b]))


SIG = [tf.TensorSpec([None, 6], tf.int32), tf.TensorSpec([None, 5], tf.int32)]


def test_without_rule_conversion_needs_flex(lite):
    with pytest.raises(Exception, match="DenseToDenseSetOperation"):
        lite.convert(make_model("intersection"), SIG)


@pytest.mark.parametrize("operation", ["intersection", "union", "a-b", "b-a"])
def test_builtin_ops_and_same_sparse_result(lite, rng, operation):
    model = make_model(operation)
    a = rng.integers(0, 8, (5, 6)).astype(np.int32)  # small range: duplicates and overlaps
    b = rng.integers(0, 8, (5, 5)).astype(np.int32)
    a[0], b[0] = [1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1]  # all duplicates, equal sets
    a[1], b[1] = [0, 1, 2, 3, 4, 5], [9, 8, 7, 6, -1]  # disjoint
    expected = [t.numpy() for t in model([a, b])]
    with applied(model, {"sets": ["set_operation"]}):
        eager = [t.numpy() for t in model([a, b])]
        tflite = lite.convert(model, SIG)
    assert lite.op_names(tflite) == SET_OPS | DENSE_OPS
    for e, x, g in zip(expected, eager, lite.run(tflite, a, b)):
        np.testing.assert_array_equal(x, e)
        np.testing.assert_array_equal(g, e)


def test_dynamic_length_lists_like_mrcnn(lite, rng):
    a, b = keras.Input((), dtype="int64", batch_size=None), keras.Input((), dtype="int64")
    model = keras.Model([a, b], KeepBoth(name="mrcnn_detection")([a, b]))
    sig = [tf.TensorSpec([None], tf.int64), tf.TensorSpec([None], tf.int64)]
    with pytest.raises(Exception, match="DenseToDenseSetOperation"):
        lite.convert(model, sig)
    with applied(model, {"mrcnn_detection": ["set_operation"]}):
        tflite = lite.convert(model, sig)
    # EXPAND_DIMS comes from the layer itself; RANGE because the list length is dynamic.
    assert lite.op_names(tflite) == SET_OPS | DENSE_OPS | {"RANGE", "EXPAND_DIMS"}
    cases = [
        (rng.permutation(30)[:12], rng.permutation(30)[:20]),
        (np.array([5, 3, 9]), np.array([1, 2])),  # empty intersection
        (np.zeros(0), np.array([1, 2, 3])),  # empty list
        (np.array([7, 7, 2]), np.zeros(0)),
    ]
    for x, y in cases:
        x, y = x.astype(np.int64), y.astype(np.int64)
        expected = model([x, y]).numpy()
        np.testing.assert_array_equal(lite.run(tflite, x, y)[0], expected)
