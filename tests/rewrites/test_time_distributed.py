"""time_distributed rule: Keras 3's per-step unrolling -> one call on [B*T, ...] between RESHAPEs."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import keras

from rewrites import applied, rules_for_layer

STEPS = 3


def make_model(rng):
    """[B, STEPS, 6, 6, 2] -> TD(Conv2D) -> TD(BN) -> TD(Conv2DTranspose) -> TD(Flatten) -> TD(Dense)."""
    x = keras.Input((STEPS, 6, 6, 2))
    y = keras.layers.TimeDistributed(keras.layers.Conv2D(4, 3, padding="same"), name="td_conv")(x)
    y = keras.layers.TimeDistributed(keras.layers.BatchNormalization(), name="td_bn")(y)
    y = keras.layers.TimeDistributed(keras.layers.Conv2DTranspose(2, 2, strides=2), name="td_up")(y)
    y = keras.layers.TimeDistributed(keras.layers.Flatten(), name="td_flat")(y)
    y = keras.layers.TimeDistributed(keras.layers.Dense(5), name="td_dense")(y)
    model = keras.Model(x, y)
    bn = model.get_layer("td_bn").layer  # non-trivial inference statistics
    bn.moving_mean.assign(rng.normal(size=4).astype(np.float32))
    bn.moving_variance.assign(rng.uniform(0.5, 2.0, 4).astype(np.float32))
    return model


PLAN = {name: ["time_distributed"] for name in ("td_conv", "td_bn", "td_up", "td_flat", "td_dense")}


def test_without_rule_one_node_per_step(lite, rng):
    counts = Counter(lite.op_list(lite.convert(make_model(rng))))
    assert counts["CONV_2D"] == STEPS and counts["TRANSPOSE_CONV"] == STEPS


def test_folded_ops_and_same_values(lite, rng):
    model = make_model(rng)
    x = rng.normal(size=(2, STEPS, 6, 6, 2)).astype(np.float32)
    expected = model(x).numpy()
    with applied(model, PLAN) as records:
        eager = model(x).numpy()
        tflite = lite.convert(model)
    assert [r["layer_type"] for r in records] == ["TimeDistributed"] * 5
    # One node per op; BN folds into the conv; back-to-back RESHAPEs merge; SHAPE/STRIDED_SLICE/PACK
    # are Flatten's own dynamic-batch reshape.
    assert Counter(lite.op_list(tflite)) == Counter(
        {"RESHAPE": 4, "CONV_2D": 1, "TRANSPOSE_CONV": 1, "FULLY_CONNECTED": 1,
         "SHAPE": 1, "STRIDED_SLICE": 1, "PACK": 1})
    np.testing.assert_allclose(eager, expected, atol=1e-5)
    for batch in (x, x[:1]):
        np.testing.assert_allclose(lite.run(tflite, batch)[0], model(batch).numpy(), atol=1e-4)


def test_training_call_is_not_folded(rng):
    """BatchNorm in training would average over B*T samples: the rule must keep the loop."""
    model = make_model(rng)
    x = rng.normal(size=(2, STEPS, 6, 6, 2)).astype(np.float32)
    expected = model(x, training=True).numpy()
    with applied(model, PLAN):
        np.testing.assert_allclose(model(x, training=True).numpy(), expected, atol=1e-5)


def test_rule_only_for_time_distributed(rng):
    model = make_model(rng)
    assert [r.name for r in rules_for_layer(model.get_layer("td_conv"))] == ["time_distributed"]
    assert rules_for_layer(model.get_layer("td_conv").layer) == []
    with pytest.raises(ValueError, match="TimeDistributed"):
        with applied(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")]),
                     {"d": ["time_distributed"]}):
            pass


def test_dynamic_time_axis_in_eager(rng):
    """Unknown T (Keras uses vectorized_map there): folding gives the same values."""
    x = keras.Input((None, 4))
    model = keras.Model(x, keras.layers.TimeDistributed(keras.layers.Dense(3), name="td")(x))
    for steps in (1, 5):
        data = rng.normal(size=(2, steps, 4)).astype(np.float32)
        expected = model(data).numpy()
        with applied(model, {"td": ["time_distributed"]}):
            got = model(data).numpy()
        assert got.shape == (2, steps, 3)
        np.testing.assert_allclose(got, expected, atol=1e-5)
