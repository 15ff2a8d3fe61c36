"""Small Keras models with non-trivial weights for the quantization tests (Keras 3).

`build_classifier`: conv -> BN (perturbed statistics) -> relu -> conv -> pool -> dense, input
``[1, 16, 16, 3]`` float32, output ``[1, 10]`` logits. `build_outlier`: the same body, two
384-wide dense layers (so weights, not file overhead, make most of its size) and a last dense
layer (``spiky``) whose weights hold one row of huge values for an input that is always 0, so
per-channel int8 of that layer loses every useful weight: selective precision must find it. `samples`: 6 seeded inputs in [0, 1).
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
    x = keras.layers.Dense(384, activation="relu", name="fc1")(_body(keras, inp))
    x = keras.layers.Dense(384, activation="relu", name="fc2")(x)
    out = keras.layers.Dense(10, name="spiky")(x)
    model = keras.Model(inp, out, name="tiny_outlier")
    _weights(model, 11)
    w2, b2 = model.get_layer("fc2").get_weights()
    b2[0] = -1e6  # fc2 unit 0 never fires (relu) ...
    model.get_layer("fc2").set_weights([w2, b2])
    w, b = model.get_layer("spiky").get_weights()
    w[0, :] = 400.0  # ... but its weight row in `spiky` is huge: the per-channel int8 step becomes ~3 and
    model.get_layer("spiky").set_weights([w, b])  # every useful weight rounds to 0
    return model


def samples():
    rng = np.random.default_rng(3)
    return [rng.random((1, 16, 16, 3), dtype=np.float32) for _ in range(6)]
