"""Run in a subprocess with ``TF_USE_LEGACY_KERAS=1``: a small tf_keras (Keras 2) model,
converted with ``TFLiteConverter.from_keras_model``, compared by `compare_loaded`; then the same
with one Dense kernel perturbed in the flatbuffer. Prints ``{"clean": report, "perturbed": report}``."""

import json
import os
import sys
from pathlib import Path

assert os.environ.get("TF_USE_LEGACY_KERAS") == "1"


def build():
    import tensorflow as tf

    keras = tf.keras
    tf.random.set_seed(5)
    rnd = keras.initializers.RandomNormal(0.2, 0.3)
    x = keras.Input((10, 10, 3), batch_size=1, name="img")
    h = keras.layers.Conv2D(4, 3, padding="same", name="conv", bias_initializer=rnd)(x)
    h = keras.layers.BatchNormalization(name="bn", beta_initializer=rnd, moving_mean_initializer=rnd)(h)
    h = keras.layers.Activation("relu", name="act")(h)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    y = keras.layers.Dense(6, name="dense", bias_initializer=rnd)(h)
    return keras.Model(x, keras.layers.Softmax(name="probs")(y))


def main(out_dir: str) -> None:
    import numpy as np
    import tensorflow as tf

    from opaudit.compare.engine import compare_loaded

    model = build()
    assert type(model).__module__.startswith("tf_keras"), type(model).__module__
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    clean, bad = os.path.join(out_dir, "k2.tflite"), os.path.join(out_dir, "k2_bad.tflite")
    Path(clean).write_bytes(conv.convert())
    data = bytearray(Path(clean).read_bytes())
    rng = np.random.default_rng(1)
    samples = [[rng.random((1, 10, 10, 3), dtype=np.float32)] for _ in range(2)]
    res = {"clean": compare_loaded(model, clean, samples, label="tf_keras").to_dict()}
    _perturb_dense(clean, bad, data)
    res["perturbed"] = compare_loaded(model, bad, samples, label="tf_keras").to_dict()
    print("RESULT " + json.dumps(res, default=str))


def _perturb_dense(src, dst, data) -> None:
    """tf_keras scopes have no ``_1`` suffix: perturb the largest constant read by a node whose
    output names ``/dense/``."""
    import numpy as np
    from ai_edge_litert import schema_py_generated as schema

    m = schema.Model.GetRootAs(data, 0)
    g = m.Subgraphs(0)
    for i in range(g.OperatorsLength()):
        op = g.Operators(i)
        if "/dense/" in g.Tensors(op.Outputs(0)).Name().decode():
            ins = [op.Inputs(j) for j in range(op.InputsLength()) if op.Inputs(j) >= 0]
            t = max(ins, key=lambda t: m.Buffers(g.Tensors(t).Buffer()).DataLength())
            buf = m.Buffers(g.Tensors(t).Buffer())
            start = buf._tab.Vector(buf._tab.Offset(4))
            view = np.frombuffer(data, np.float32, buf.DataLength() // 4, start) * np.float32(1.1)
            data[start:start + buf.DataLength()] = view.astype(np.float32).tobytes()
    Path(dst).write_bytes(bytes(data))


if __name__ == "__main__":
    main(sys.argv[1])
