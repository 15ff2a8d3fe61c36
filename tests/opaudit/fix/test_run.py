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
