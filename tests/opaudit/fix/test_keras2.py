"""Keras 2 (tf_keras) models: user code under TF_USE_LEGACY_KERAS and full-model .h5 files.

The builder file and the .h5 are made in a subprocess with TF_USE_LEGACY_KERAS=1 (this test
process has Keras 3 loaded); `fix` must detect Keras 2 and run its workers under tf_keras.
"""

import os
import subprocess
import sys
import textwrap

import pytest

from opaudit import modelspec
from opaudit.errors import UsageError

BUILDER = textwrap.dedent('''
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras


    class RoiCrop(keras.layers.Layer):
        """Crops of [1, 3, (y1, x1, y2, x2)] normalized boxes, the last one ending at the border."""

        def call(self, feat, boxes):
            b = boxes[0]
            crops = tf.image.crop_and_resize(feat, b, tf.zeros([tf.shape(b)[0]], tf.int32), [4, 4])
            return tf.reduce_mean(crops, axis=[1, 2])[None]


    def build():
        keras.utils.set_random_seed(5)
        img = keras.Input((16, 16, 3), batch_size=1, name="image")
        boxes = keras.Input((3, 4), batch_size=1, name="boxes")
        feat = keras.layers.Conv2D(4, 3, padding="same", name="conv", bias_initializer="random_normal")(img)
        return keras.Model([img, boxes], RoiCrop(name="roi")(feat, boxes), name="k2")


    def samples():
        rng = np.random.default_rng(1)
        box = np.array([[[0.1, 0.1, 0.6, 0.5], [0.2, 0.3, 0.9, 0.8], [0.25, 0.5, 0.75, 0.9]]], np.float32)
        return [[rng.random((1, 16, 16, 3), dtype=np.float32), box] for _ in range(2)]
''')


def _write(tmp_path):
    src = tmp_path / "k2_model.py"
    src.write_text(BUILDER)
    return src


def test_keras_version_is_detected(tmp_path, monkeypatch):
    monkeypatch.delenv("TF_USE_LEGACY_KERAS", raising=False)
    src = _write(tmp_path)
    assert modelspec.describe(f"{src}:build").keras == "2"  # the file names tf_keras
    plain = tmp_path / "k3.py"
    plain.write_text("import keras\ndef build():\n    return None\n")
    assert modelspec.describe(f"{plain}:build").keras == "3"
    assert modelspec.describe(f"{plain}:build", keras="2").env == {"TF_USE_LEGACY_KERAS": "1"}
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "1")
    assert modelspec.describe(f"{plain}:build").keras == "2"
    with pytest.raises(UsageError, match="--keras takes 2 or 3"):
        modelspec.describe(f"{plain}:build", keras="4")


def test_h5_forms(tmp_path):
    import h5py

    with h5py.File(tmp_path / "w.h5", "w") as f:
        f.attrs["layer_names"] = [b"conv"]
    with pytest.raises(UsageError, match="weights only"):
        modelspec.describe(str(tmp_path / "w.h5"))
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(UsageError, match="not an HDF5 file"):
        modelspec.describe(str(tmp_path / "junk.h5"))
    with h5py.File(tmp_path / "m.h5", "w") as f:
        f.attrs["model_config"] = "{}"
        f.attrs["keras_version"] = "2.21.0"
    spec = modelspec.describe(str(tmp_path / "m.h5"))
    assert (spec.kind, spec.keras) == ("h5", "2")


@pytest.mark.slow
def test_fix_keras2_code_and_h5_file(tmp_path, monkeypatch):
    from opaudit.fix import run_fix

    monkeypatch.setenv("OPAUDIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TF_USE_LEGACY_KERAS", raising=False)
    src = _write(tmp_path)
    fix = run_fix(f"{src}:build", out=tmp_path / "code", samples=f"{src}:samples", use_cache=False,
                  progress=lambda s: None)
    assert fix.fixed, fix.reason
    assert fix.model["keras"] == "2" and fix.iterations[-1].plan == {"roi": ["crop_and_resize"]}
    assert [e.fired for e in fix.iterations[-1].emits] == [True]

    # the same model saved by Keras 2 as a full-model .h5 (no custom layer: plain conv + pooling)
    code = ("import tf_keras as keras; keras.utils.set_random_seed(2); "
            "x = keras.Input((12, 12, 3), name='img'); "
            "y = keras.layers.Conv2D(3, 3, name='c', bias_initializer='random_normal')(x); "
            "m = keras.Model(x, keras.layers.GlobalAveragePooling2D(name='p')(y)); "
            f"m.save({str(tmp_path / 'full.h5')!r})")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300, capture_output=True,
                   env={**os.environ, "TF_USE_LEGACY_KERAS": "1"})
    fix = run_fix(str(tmp_path / "full.h5"), out=tmp_path / "h5", use_cache=False, progress=lambda s: None)
    assert fix.fixed, fix.reason
    assert (fix.model["kind"], fix.model["keras"]) == ("h5", "2")
    assert fix.model["inputs"] == [{"name": "img", "shape": [1, 12, 12, 3], "dtype": "float32"}]
