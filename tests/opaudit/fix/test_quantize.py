"""`opaudit fix --quantize` end to end on a small model with one badly conditioned layer.

`tiny_models.build_outlier`'s ``spiky`` dense layer has one input row of huge weights, so int8
weights of that layer lose every small one: fully quantized, dynamic and int8 miss their bar;
selective precision must keep exactly that layer in float. Every number `fix.json` reports is
then recomputed here, independently: Keras run in this process, the delivered files run with
the interpreter, SNR and cosine with plain numpy, sizes from the files.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parents[1] / "quantize" / "tiny_models.py"
MODEL = f"{HERE}:build_outlier"
SAMPLES = f"{HERE}:samples"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("quant")
    r = subprocess.run([sys.executable, "-m", "opaudit", "fix", "--model", MODEL, "--samples", SAMPLES,
                        "--quantize", "fp16,dynamic", "--quantize", "int8", "--out", str(out), "--no-cache"],
                       capture_output=True, text=True, check=False, timeout=900)
    return r, out, json.loads((out / "fix.json").read_text())


@pytest.mark.slow
def test_variants_delivered_builtin_and_invoking(run):
    r, out, fix = run
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    q = fix["quantization"]
    assert [v["mode"] for v in q["variants"]] == ["fp16", "dynamic", "int8"]
    for v in q["variants"]:
        assert v["status"] == "ok", v["reason"]
        assert v["tool"] == "ai-edge-quantizer" and v["fallback"] is None
        assert v["audit"]["builtin_only"] and v["audit"]["invokes"]
        assert (out / v["path"]).stat().st_size == v["size"]
        assert v["size_ratio"] == pytest.approx(v["size"] / (out / "model.tflite").stat().st_size, abs=1e-4)
    fp16, dynamic, int8 = q["variants"]
    assert "float16" in fp16["audit"]["weight_dtypes"] and fp16["keep_float"] == []
    assert "int8" in dynamic["audit"]["weight_dtypes"]
    assert int8["calibration"]["samples"] == 6 and "warning" in int8["calibration"]


@pytest.mark.slow
def test_selective_precision_keeps_the_spiky_layer(run):
    _, out, fix = run
    for v in fix["quantization"]["variants"][1:]:
        assert v["keep_float"] == ["spiky"], v["mode"]
        first, last = v["steps"][0], v["steps"][-1]
        assert first["keep_float"] == [] and first["passed"] is False and first["why"]
        assert last["keep_float"] == ["spiky"] and last["passed"] is True
        ranked = [x for x in v["layer_noise"]["layers"] if x["quantized"]]
        assert max(ranked, key=lambda x: x["added_noise"])["layer"] == "spiky"
    from opaudit.inspect import inspect_model

    rep = inspect_model(str(out / "model.dynamic.tflite"), probe=False)
    spiky_weights = {rep.tensors[i].dtype for o in rep.operators if o.layer == "spiky" for i in o.inputs
                     if i >= 0 and rep.tensors[i].buffer_size}
    assert spiky_weights <= {"float32"}, spiky_weights


def _recompute(keras_out, tfl_out):
    k, t = np.concatenate([x.ravel() for x in keras_out]), np.concatenate([x.ravel() for x in tfl_out])
    k, t = k.astype(np.float64), t.astype(np.float64)
    noise = np.sum((k - t) ** 2)
    snr = 300.0 if noise == 0 else min(300.0, 10 * math.log10(np.sum(k * k) / noise))
    return snr, float(np.dot(k, t) / np.linalg.norm(k) / np.linalg.norm(t))


@pytest.mark.slow
def test_numbers_agree_with_an_independent_recomputation(run):
    _, out, fix = run
    import importlib.util

    from ai_edge_litert.interpreter import Interpreter

    spec = importlib.util.spec_from_file_location("tiny_models_check", HERE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model = mod.build_outlier()
    xs = mod.samples()
    keras_out = [np.asarray(model(x, training=False)) for x in xs]
    q = fix["quantization"]
    for v in [{"path": "model.tflite", "metrics": q["float_metrics"]}] + q["variants"]:
        interp = Interpreter(model_path=str(out / v["path"]))
        runner = interp.get_signature_runner()
        tfl_out = [next(iter(runner(image=x).values())) for x in xs]
        snr, cos = _recompute(keras_out, tfl_out)
        reported = v["metrics"]["dense"][0]
        assert reported["snr_db"] == pytest.approx(snr, rel=1e-6, abs=1e-6), v["path"]
        assert reported["cosine"] == pytest.approx(cos, rel=1e-9), v["path"]


@pytest.mark.slow
def test_compare_against_the_float_model(run):
    """`opaudit compare --against`: the delivered dynamic model has `spiky` in float, the rest int8."""
    _, out, _ = run
    r = subprocess.run([sys.executable, "-m", "opaudit", "compare", "--against", str(out / "model.tflite"),
                        str(out / "model.dynamic.tflite"), "--samples", SAMPLES, "--json"],
                       capture_output=True, text=True, check=False, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads(r.stdout)
    layers = {x["layer"]: x for x in data["layers"]}
    assert not layers["spiky"]["quantized"] and layers["fc2"]["quantized"] and layers["conv2"]["quantized"]
    assert data["unmatched"] == 0 and data["samples"].startswith("samples from")
    assert all(0 < x["snr_out_db"] <= 300 for x in data["layers"])


@pytest.mark.slow
def test_converter_fallback_when_the_quantizer_fails(tmp_path):
    """Every Quantizer task fails (injected worker): the converter quantizes, the variant says so
    and is still audited and scored; no selective precision is attempted on a converter model."""
    from opaudit.fix import run_fix

    fake = str(Path(__file__).with_name("fake_worker.py"))
    result = run_fix(MODEL, out=tmp_path, samples=SAMPLES, quantize=["dynamic"], use_cache=False,
                     worker=(sys.executable, fake, "no-quantizer"))
    assert result.fixed
    v = result.quantization.variants[0]
    assert v.tool == "tflite-converter" and "stand-in" in v.fallback
    assert v.audit["builtin_only"] and v.audit["invokes"] and v.size_ratio < 0.5
    assert len(v.steps) == 1 and v.metrics["dense"][0]["snr_db"] is not None
    assert v.passed or any("selective precision not available" in w for w in v.why)


@pytest.mark.slow
def test_saved_model_quantized_and_scored(tmp_path):
    """A SavedModel (no Keras layers): scored against its own serving signature."""
    import tensorflow as tf

    from opaudit.fix import run_fix

    class Net(tf.Module):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.w = tf.Variable(rng.standard_normal((64, 256)).astype("float32"))
            self.v = tf.Variable(rng.standard_normal((256, 8)).astype("float32"))

        @tf.function(input_signature=[tf.TensorSpec([1, 64], name="x")])
        def serve(self, x):
            return {"y": tf.matmul(tf.nn.relu(tf.matmul(x, self.w)), self.v)}

    net = Net()
    tf.saved_model.save(net, str(tmp_path / "sm"), signatures={"serving_default": net.serve.get_concrete_function()})
    result = run_fix(str(tmp_path / "sm"), out=tmp_path / "out", quantize=["fp16", "dynamic"], use_cache=False)
    assert result.fixed, result.reason
    for v in result.quantization.variants:
        assert v.audit["builtin_only"] and v.audit["invokes"], v.mode
        assert [d["name"] for d in v.metrics["dense"]] == ["y"] and v.metrics["dense"][0]["cosine"] > 0.99
        assert (tmp_path / "out" / v.path).is_file()
