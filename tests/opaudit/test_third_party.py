"""Architectures nobody here wrote (keras.applications, untrained), float and int8: `--json`
agrees node for node with the runtime, and builtin-only models exit 0."""

import json
import subprocess
import sys

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter


def _convert(name: str, quantize: bool) -> bytes:
    import keras
    import tensorflow as tf

    model = getattr(keras.applications, name)(weights=None, input_shape=(96, 96, 3), include_top=True, classes=10)
    c = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantize:
        rng = np.random.default_rng(0)
        c.optimizations = [tf.lite.Optimize.DEFAULT]
        c.representative_dataset = lambda: ([rng.random((1, 96, 96, 3), np.float32)] for _ in range(4))
    return c.convert()


@pytest.mark.slow
@pytest.mark.parametrize("name,quantize", [("MobileNetV3Small", False), ("MobileNetV2", True)])
def test_json_agrees_with_runtime(tmp_path, name, quantize):
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(_convert(name, quantize))
    r = subprocess.run([sys.executable, "-m", "opaudit", "inspect", "--json", str(path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    interp = Interpreter(model_path=str(path))
    runtime = [(x["index"], x["op_name"]) for x in interp._get_ops_details()]
    ours = [(o["index"], o["op"]) for o in d["operators"] if o["subgraph"] == 0]
    assert ours == runtime
    assert all(o["kind"] == "builtin" for o in d["operators"])
    assert d["probe"]["status"] == "ok"
    assert sum(1 for o in d["operators"] if o["layer"]) > 0.8 * len(d["operators"])
    if quantize:
        assert any(t["quantization"] for t in d["tensors"])
