"""The other MODEL kinds: a .keras file (converts as is) and a SavedModel (no Keras layers, so a
blocker cannot be rewritten and the result says exactly that)."""

import pytest


@pytest.mark.slow
def test_keras_file_and_saved_model(tmp_path, monkeypatch):
    import keras
    import tensorflow as tf

    from opaudit.fix import run_fix

    monkeypatch.setenv("OPAUDIT_CACHE", str(tmp_path / "cache"))
    keras.utils.set_random_seed(0)
    x = keras.Input((8, 8, 3), name="x")
    y = keras.layers.GlobalAveragePooling2D(name="pool")(keras.layers.Conv2D(4, 3, name="conv")(x))
    keras.Model(x, keras.layers.Dense(2, name="dense")(y)).save(tmp_path / "m.keras")
    fix = run_fix(str(tmp_path / "m.keras"), out=tmp_path / "k", use_cache=False, progress=lambda s: None)
    assert fix.fixed, fix.reason
    assert fix.model["inputs"] == [{"name": "x", "shape": [1, 8, 8, 3], "dtype": "float32"}]
    assert [o["name"] for o in fix.parity.outputs] == ["dense"]

    class Crop(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 1], name="img"),
                                      tf.TensorSpec([1, 3, 4], name="boxes")])
        def serve(self, img, boxes):
            return {"crops": tf.image.crop_and_resize(img, boxes[0], tf.zeros([3], tf.int32), [2, 2])}

    mod = Crop()
    tf.saved_model.save(mod, str(tmp_path / "sm"), signatures={"serving_default": mod.serve.get_concrete_function()})
    fix = run_fix(str(tmp_path / "sm"), out=tmp_path / "s", use_cache=False, progress=lambda s: None)
    assert fix.status == "failed" and "no Keras layers" in fix.pre_audit.note
    [u] = fix.unfixed
    assert u.op == "tf.CropAndResize" and u.layer is None
    assert "crop_and_resize" in u.why and "maps to no Keras layer" in u.why


def _single_input_model(tmp_path):
    src = tmp_path / "one.py"
    src.write_text(
        "import keras\n"
        "import numpy as np\n\n"
        "def build():\n"
        "    keras.utils.set_random_seed(3)\n"
        "    x = keras.Input((16, 16, 3), name='image')\n"
        "    y = keras.layers.Conv2D(4, 3, name='conv', bias_initializer='random_normal')(x)\n"
        "    return keras.Model(x, keras.layers.GlobalAveragePooling2D(name='pool')(y))\n\n"
        "def bare():\n"
        "    rng = np.random.default_rng(0)\n"
        "    return [rng.random((1, 16, 16, 3)) for _ in range(2)]\n\n"
        "def wrong_rank():\n"
        "    return [np.zeros((1, 16, 16, 3), np.float32), np.zeros((1, 16, 16), np.float32)]\n")
    return src


def test_sample_with_wrong_shape_is_one_line_exit_2(tmp_path):
    """Samples are checked against the pinned signature before any conversion: exit 2, one line
    naming the sample, the input and both shapes; nothing converted."""
    import os
    import subprocess
    import sys

    src = _single_input_model(tmp_path)
    r = subprocess.run([sys.executable, "-m", "opaudit", "fix", "--model", f"{src}:build",
                        "--samples", f"{src}:wrong_rank", "--out", str(tmp_path / "out"), "--no-cache"],
                       capture_output=True, text=True, timeout=300,
                       env={**os.environ, "OPAUDIT_CACHE": str(tmp_path / "cache")})
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr[-2000:]
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("opaudit: error")]  # the rest: progress lines
    assert len(errors) == 1 and "Traceback" not in r.stderr and r.stderr.strip().endswith(errors[0])
    assert errors[0] == ("opaudit: error: sample 1, input 'image': shape (1, 16, 16) dtype float32, "
                        "expected (1, 16, 16, 3) float32")
    assert not (tmp_path / "out" / "model.tflite").exists()


@pytest.mark.slow
def test_single_input_samples_as_bare_arrays_are_accepted(tmp_path, monkeypatch):
    from opaudit.fix import run_fix

    monkeypatch.setenv("OPAUDIT_CACHE", str(tmp_path / "cache"))
    src = _single_input_model(tmp_path)
    fix = run_fix(f"{src}:build", out=tmp_path / "out", samples=f"{src}:bare", use_cache=False,
                  progress=lambda s: None)
    assert fix.fixed, fix.reason
    assert fix.parity.samples == 2 and fix.model["inputs"][0]["shape"] == [1, 16, 16, 3]
