"""full_window_conv rule: a conv whose kernel covers its whole input -> RESHAPE + FULLY_CONNECTED."""

from __future__ import annotations

from collections import Counter

import keras
import numpy as np
import pytest
import tensorflow as tf

from rewrites import RuleNotApplied, applied

T, H, C, O = 3, 5, 6, 8  # ROIs per image, window, channels, filters (mrcnn_class_conv1 is T=200, 7, 256, 1024)
SIG = [tf.TensorSpec([None, T, H, H, C], tf.float32)]


def make_model(rng):
    """mrcnn's classifier head shape: TD(Conv2D HxH valid) -> TD(Conv2D 1x1) -> TD(Conv2D 1x1 'same' 3x3)."""
    x = keras.Input((T, H, H, C), name="rois")
    y = keras.layers.TimeDistributed(keras.layers.Conv2D(O, (H, H), padding="valid"), name="conv1")(x)
    y = keras.layers.TimeDistributed(keras.layers.Conv2D(O, (1, 1)), name="conv2")(keras.layers.ReLU()(y))
    z = keras.layers.TimeDistributed(keras.layers.Conv2D(2, 3, padding="same"), name="conv3")(x)
    model = keras.Model(x, [y, z])
    for layer in model.layers:  # weights far from the initialisers' (biases non-zero)
        if layer.get_weights():
            layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    return model


FOLD = {"conv1": ["time_distributed"], "conv2": ["time_distributed"], "conv3": ["time_distributed"]}
PLAN = {"conv1": ["time_distributed", "full_window_conv"], "conv2": ["time_distributed", "full_window_conv"],
        "conv3": ["time_distributed"]}


def inputs(rng):
    """Random rows, then edge cases: zeros, a large magnitude, alternating signs, one row only."""
    yield rng.normal(size=(2, T, H, H, C)).astype(np.float32)
    yield np.zeros((1, T, H, H, C), np.float32)
    yield np.full((1, T, H, H, C), 3e4, np.float32)
    yield (np.indices((2, T, H, H, C)).sum(0) % 2 * 2 - 1).astype(np.float32) * 1e3
    yield rng.uniform(-1, 1, (1, T, H, H, C)).astype(np.float32)


def test_without_rule_the_full_window_convs_stay_conv_2d(lite, rng):
    model = make_model(rng)
    with applied(model, FOLD):
        ops = Counter(lite.op_list(lite.convert(model, SIG)))
    assert ops["CONV_2D"] == 3 and "FULLY_CONNECTED" not in ops


def test_rule_gives_fully_connected_and_same_values(lite, rng):
    model = make_model(rng)
    with applied(model, PLAN) as records:
        tflite = lite.convert(model, SIG)
    assert sorted(r["rule"] for r in records if r["rule"] == "full_window_conv") == ["full_window_conv"] * 2
    # conv1 and conv2 become one FULLY_CONNECTED each (bias and ReLU fused); the fold and the flatten
    # merge into one RESHAPE [-1, T, H, H, C] -> [-1, H*H*C]; conv3 (3x3 'same') stays a folded CONV_2D
    assert Counter(lite.op_list(tflite)) == Counter({"RESHAPE": 5, "FULLY_CONNECTED": 2, "CONV_2D": 1})
    for x in inputs(rng):
        want = [t.numpy() for t in model(x)]
        got = lite.run(tflite, x)
        for w, g in zip(want, sorted(got, key=lambda a: a.shape[-1], reverse=True)):
            assert g.shape == w.shape
            scale = max(float(np.abs(w).max()), 1e-6)
            assert float(np.abs(g - w).max()) / scale < 2e-6


def test_eager_values_unchanged_and_other_convs_declined(rng):
    model = make_model(rng)
    x = rng.normal(size=(2, T, H, H, C)).astype(np.float32)
    want = [t.numpy() for t in model(x)]
    with pytest.warns(RuleNotApplied, match="padding SAME"):
        with applied(model, {"conv3": ["time_distributed", "full_window_conv"]}):
            kept = [t.numpy() for t in model(x)]
    np.testing.assert_array_equal(kept[1], want[1])  # declined: the original conv ran
    with applied(model, PLAN):
        got = [t.numpy() for t in model(x)]
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5 * float(np.abs(w).max()))


def test_plain_conv2d_and_padding_cases(lite, rng):
    x_in = keras.Input((H, H, C), name="x")
    valid = keras.layers.Conv2D(O, H, name="valid")(x_in)
    same = keras.layers.Conv2D(O, H, padding="same", name="same")(x_in)
    small = keras.layers.Conv2D(O, 3, name="small")(x_in)
    model = keras.Model(x_in, [valid, same, small])
    plan = {name: ["full_window_conv"] for name in ("valid", "same", "small")}
    with pytest.warns(RuleNotApplied) as caught:
        with applied(model, plan):
            tflite = lite.convert(model, [tf.TensorSpec([None, H, H, C], tf.float32)])
    reasons = " ".join(str(w.message) for w in caught)
    assert "padding SAME" in reasons and "kernel [3, 3, 6] does not cover input [5, 5, 6]" in reasons
    assert Counter(lite.op_list(tflite)) == Counter({"RESHAPE": 2, "FULLY_CONNECTED": 1, "CONV_2D": 2})
    x = rng.normal(size=(4, H, H, C)).astype(np.float32)
    got = {a.shape: a for a in lite.run(tflite, x)}
    want = model(x)
    np.testing.assert_allclose(got[(4, 1, 1, O)], want[0].numpy(), rtol=1e-5, atol=1e-5)


def test_same_padding_that_pads_nothing_is_a_full_window(lite, rng):
    """A 1x1 'same' conv over a 1x1 input (a squeeze-excite block's shape) pads nothing: rewritten."""
    x_in = keras.Input((1, 1, C), name="x")
    model = keras.Model(x_in, keras.layers.Conv2D(O, 1, padding="same", name="se")(x_in))
    model.layers[-1].set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.layers[-1].get_weights()])
    with applied(model, {"se": ["full_window_conv"]}) as records:
        tflite = lite.convert(model, [tf.TensorSpec([None, 1, 1, C], tf.float32)])
    assert [r for r in records if r.get("declined")] == []
    assert "CONV_2D" not in lite.op_list(tflite) and "FULLY_CONNECTED" in lite.op_list(tflite)
    x = rng.normal(size=(3, 1, 1, C)).astype(np.float32)
    [got] = lite.run(tflite, x)
    np.testing.assert_allclose(got, model(x).numpy(), rtol=1e-5, atol=1e-5)
