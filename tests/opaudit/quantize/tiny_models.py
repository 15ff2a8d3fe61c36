"""Small Keras models with non-trivial weights for the quantization tests (Keras 3).

`build_classifier`: conv -> BN (perturbed statistics) -> relu -> conv -> pool -> dense, input
``[1, 16, 16, 3]`` float32, output ``[1, 10]`` logits. `build_outlier`: the same, with one
dense layer (``spiky``) whose weights hold a few huge values, so per-channel int8 of that layer
loses the small ones: selective precision must find it. `samples`: 6 seeded inputs in [0, 1).
"""

from __future__ import annotations

import numpy as np


def _weights(model, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        new = []
        for w in layer.get_weights():
            if "batch_normalization" in layer.name and len(new) == 3:  # moving variance > 0
                new.append(rng.uniform(0.5, 2.0, w.shape).astype(w.dtype))
            else:
                new.append((rng.standard_normal(w.shape) * (0.3 if w.ndim > 1 else 0.1)).astype(w.dtype))
        layer.set_weights(new)


def _body(keras, x):
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv1")(x)
    x = keras.layers.BatchNormalization(name="batch_normalization")(x)
    x = keras.layers.ReLU(name="relu1")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="conv2")(x)
    return keras.layers.GlobalAveragePooling2D(name="pool")(x)


def build_classifier():
    import keras

    inp = keras.Input((16, 16, 3), batch_size=1, name="image")
    x = keras.layers.Dense(32, activation="relu", name="fc1")(_body(keras, inp))
    model = keras.Model(inp, keras.layers.Dense(10, name="logits")(x), name="tiny_classifier")
    _weights(model, 7)
    return model


def build_outlier():
    import keras

    inp = keras.Input((16, 16, 3), batch_size=1, name="image")
    x = keras.layers.Dense(64, activation="relu", name="fc1")(_body(keras, inp))
    out = keras.layers.Dense(10, name="spiky")(x)
    model = keras.Model(inp, out, name="tiny_outlier")
    _weights(model, 11)
    w, b = model.get_layer("spiky").get_weights()
    w[0, :] = 400.0  # one huge input row: every output channel's int8 step becomes ~3, the rest round to 0
    model.get_layer("spiky").set_weights([w, b])
    return model


def samples():
    rng = np.random.default_rng(3)
    return [rng.random((1, 16, 16, 3), dtype=np.float32) for _ in range(6)]
