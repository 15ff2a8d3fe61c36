"""Small real models for the profile tests, converted at test time (TensorFlow imported lazily).

Weights are not the initialisers' defaults: every kernel, bias and BatchNorm statistic is drawn
from a seeded generator, so a node fed the wrong tensor cannot give the right output by chance.
- `conv`: Keras Conv2D -> BatchNorm -> ReLU -> DepthwiseConv2D -> Conv2DTranspose -> GAP -> Dense
  -> Softmax (fused and unfused float ops, XNNPACK takes most of them).
- `dynamic`: tf.function: WHERE on a data-dependent mask -> GATHER -> reductions; with all-low
  scores the gathered tensor has zero elements (runtime shapes differ from the file's).
- `loop`: tf.function with a tf.while_loop (builtin WHILE calling two subgraphs).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _perturb(model, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        new = [rng.uniform(0.5, 1.5, w.shape).astype(w.dtype) if "variance" in v.name else
               rng.normal(0, 0.3, w.shape).astype(w.dtype) for w, v in zip(weights, layer.weights)]
        layer.set_weights(new)


def _conv_model():
    import keras

    x = keras.Input((12, 12, 3), batch_size=1, name="image")
    y = keras.layers.Conv2D(8, 3, padding="same", name="conv")(x)
    y = keras.layers.BatchNormalization(name="bn")(y)
    y = keras.layers.ReLU(name="relu")(y)
    y = keras.layers.DepthwiseConv2D(3, name="dw")(y)
    y = keras.layers.Conv2DTranspose(4, 2, strides=2, name="up")(y)
    y = keras.layers.GlobalAveragePooling2D(name="gap")(y)
    y = keras.layers.Dense(5, name="head")(y)
    model = keras.Model(x, keras.layers.Softmax(name="prob")(y), name="conv_net")
    _perturb(model)
    return model


def build(folder: Path) -> dict[str, Path]:
    """Convert the three models into `folder`; returns {name: path}."""
    import tensorflow as tf

    out = {"conv": tf.lite.TFLiteConverter.from_keras_model(_conv_model())}

    @tf.function(input_signature=[tf.TensorSpec([16, 4], tf.float32), tf.TensorSpec([16], tf.float32)])
    def dynamic(boxes, scores):
        keep = tf.where(scores > 0.5)[:, 0]
        picked = tf.gather(boxes, keep)
        return tf.reduce_sum(picked * 2.0 + 1.0, axis=0), tf.shape(picked)[0]

    @tf.function(input_signature=[tf.TensorSpec([4], tf.float32), tf.TensorSpec([], tf.int32)])
    def loop(x, n):
        _, y = tf.while_loop(lambda i, v: i < n, lambda i, v: (i + 1, v * 0.5 + 1.0), [0, x])
        return y

    out["dynamic"] = tf.lite.TFLiteConverter.from_concrete_functions([dynamic.get_concrete_function()])
    out["loop"] = tf.lite.TFLiteConverter.from_concrete_functions([loop.get_concrete_function()])
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, conv in out.items():
        paths[name] = folder / f"{name}.tflite"
        paths[name].write_bytes(conv.convert())
    return paths
