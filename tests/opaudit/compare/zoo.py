"""Small Keras models for the compare tests (seeded, non-default weights), and a flatbuffer
weight perturbation helper.

* `build_clean`: Conv2D + BatchNormalization + ReLU (fused by the converter), a 1x1 Conv2D
  branch, Add, pooling, Dense, Softmax. Converts exactly.
* `build_crop_border`: features -> per-row boxes whose ``x2`` is clipped to exactly 1.0 ->
  `tf.image.crop_and_resize` (needs the ``crop_and_resize`` rule) -> per-row Dense head.
  Ill-conditioned on purpose: a last-bit difference in ``x1`` moves the last crop column of a
  border box outside the image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

N_BOXES = 64
SIZE = 16


def build_clean():
    import keras

    keras.utils.set_random_seed(1)
    init = keras.initializers

    def rnd(mean=0.0):  # a fresh initializer per weight (one seeded object repeats its values)
        return init.RandomNormal(mean, 0.3)

    x = keras.Input((12, 12, 3), batch_size=1, name="img")
    h = keras.layers.Conv2D(6, 3, padding="same", name="conv", bias_initializer=rnd())(x)
    h = keras.layers.BatchNormalization(name="bn", beta_initializer=rnd(0.3), moving_mean_initializer=rnd(),
                                        gamma_initializer=init.RandomUniform(0.5, 1.5),
                                        moving_variance_initializer=init.RandomUniform(0.5, 2.0))(h)
    h = keras.layers.ReLU(name="relu")(h)
    a = keras.layers.Conv2D(6, 1, name="conv_b", activation="relu", bias_initializer=rnd())(h)
    h = keras.layers.Add(name="add")([h, a])
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    h = keras.layers.Dense(16, name="dense", activation="tanh", bias_initializer=rnd())(h)
    y = keras.layers.Dense(5, name="logits", bias_initializer=rnd())(h)
    y = keras.layers.Softmax(name="probs")(y)
    return keras.Model(x, y, name="clean")


def build_crop_border():
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(11)
    rnd = keras.initializers.RandomNormal(0.4, 0.2, seed=12)

    class BorderBoxes(keras.layers.Layer):
        """``[1, 2N]`` -> boxes ``[1, N, (y1, x1, y2, x2)]``; ``x2 = min(x1 + 0.7, 1)`` is exactly
        1.0 for every ``x1 > 0.3``."""

        def call(self, raw):
            s = tf.sigmoid(tf.reshape(raw, [1, N_BOXES, 2])) * 0.6
            y1, x1 = s[..., 0], s[..., 1]
            return tf.stack([y1, x1, y1 + 0.35, tf.minimum(x1 + 0.7, 1.0)], axis=-1)

    class RoiCrop(keras.layers.Layer):
        """features ``[1, H, W, C]``, boxes ``[1, N, 4]`` -> crops ``[1, N, 5, 5, C]``."""

        def call(self, inputs):
            feat, boxes = inputs
            b = boxes[0]
            crops = tf.image.crop_and_resize(feat, b, tf.zeros([N_BOXES], tf.int32), [5, 5])
            return crops[None]

    image = keras.Input((SIZE, SIZE, 3), batch_size=1, name="image")
    feat = keras.layers.Conv2D(8, 3, padding="same", activation="relu", bias_initializer=rnd, name="features")(image)
    pooled = keras.layers.Flatten(name="flat")(keras.layers.AveragePooling2D(4, name="pool")(feat))
    raw = keras.layers.Dense(2 * N_BOXES, name="box_raw",
                             bias_initializer=keras.initializers.RandomNormal(0.0, 1.0, seed=13))(pooled)
    boxes = BorderBoxes(name="boxes")(raw)
    crops = RoiCrop(name="roi_crop")([feat, boxes])
    flat = keras.layers.Reshape((N_BOXES, 5 * 5 * 8), name="crop_flat")(crops)
    probs = keras.layers.Softmax(name="probs")(keras.layers.Dense(6, name="head", bias_initializer=rnd)(flat))
    return keras.Model(image, [probs, boxes], name="crop_border")


def samples_clean():
    rng = np.random.default_rng(3)
    return [rng.random((1, 12, 12, 3), dtype=np.float32) for _ in range(2)]


def samples_crop():
    rng = np.random.default_rng(4)
    return [rng.random((1, SIZE, SIZE, 3), dtype=np.float32) for _ in range(3)]


def convert(fn, out) -> None:
    """Convert the model built by ``fn()`` (builtins only, batch 1) to ``out``, as `fix` does."""
    from opaudit.fix.converter import pinned_converter
    from opaudit.modelspec import signature

    model = fn()
    with pinned_converter(model, signature(model, None, None)) as c:
        data = c.convert()
    Path(out).write_bytes(data)


def perturb_weights(src, dst, layer: str | None, scale: float, seed: int = 0) -> list[str]:
    """Copy ``src`` to ``dst`` with float32 constant tensors multiplied by ``1 + scale * noise``.

    ``layer``: only tensors read by operators whose output tensor names mention ``/<layer>_1/``
    (Keras 3 scopes), largest first (the kernel); None: every float32 constant tensor. Returns
    the names of the tensors changed. Offsets come from the flatbuffer itself (schema bindings).
    """
    from ai_edge_litert import schema_py_generated as schema

    data = bytearray(Path(src).read_bytes())
    m = schema.Model.GetRootAs(data, 0)
    g = m.Subgraphs(0)
    wanted: set[int] = set()
    for i in range(g.OperatorsLength()):
        op = g.Operators(i)
        outs = [g.Tensors(op.Outputs(j)).Name().decode() for j in range(op.OutputsLength())]
        if layer is None or any(f"/{layer}_1/" in n for n in outs):
            wanted |= {op.Inputs(j) for j in range(op.InputsLength()) if op.Inputs(j) >= 0}
    rng = np.random.default_rng(seed)
    changed = []
    cands = sorted(wanted, key=lambda t: -m.Buffers(g.Tensors(t).Buffer()).DataLength())
    for t in cands if layer is None else cands[:1]:
        tensor = g.Tensors(t)
        buf = m.Buffers(tensor.Buffer())
        if tensor.Type() != schema.TensorType.FLOAT32 or buf.DataLength() == 0:
            continue
        start = buf._tab.Vector(buf._tab.Offset(4))
        view = np.frombuffer(data, np.float32, buf.DataLength() // 4, start)
        new = view * (1 + scale * rng.standard_normal(view.shape)).astype(np.float32)
        data[start:start + buf.DataLength()] = new.astype(np.float32).tobytes()
        changed.append(tensor.Name().decode())
    Path(dst).write_bytes(bytes(data))
    return changed
