"""HDF5 weights in the reference layout: round trip, seeding, mismatch errors."""
import h5py
import numpy as np
import pytest

from mrcnn import MaskRCNN, get_config
from mrcnn.weights import HEAD_LAYERS, seed_weights


@pytest.fixture(scope="module")
def saved(small_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "small_seed0.h5"
    small_model.save_weights(str(path))
    return path


@pytest.fixture(scope="module")
def other_model():
    return MaskRCNN(get_config("small", DETECTION_MIN_CONFIDENCE=0.0), seed=1)


def test_file_layout_is_keras2_reference(saved, small_model):
    with h5py.File(saved, "r") as f:
        names = [n.decode() for n in f.attrs["layer_names"]]
        assert names == [l.name for l in small_model.keras_model.layers]
        assert [n.decode() for n in f["conv1"].attrs["weight_names"]] == [
            "conv1/kernel:0", "conv1/bias:0"]
        assert [n.decode() for n in f["bn_conv1"].attrs["weight_names"]] == [
            "bn_conv1/gamma:0", "bn_conv1/beta:0", "bn_conv1/moving_mean:0",
            "bn_conv1/moving_variance:0"]
        assert f["conv1"]["conv1/kernel:0"].shape == (7, 7, 3, 64)
        assert f["mrcnn_mask"]["mrcnn_mask/kernel:0"].shape == (1, 1, 256, 4)
        assert f["rpn_model"]["rpn_conv_shared/kernel:0"].shape == (3, 3, 256, 512)
        assert len(f["ROI"].attrs["weight_names"]) == 0


def test_seeding_is_deterministic_and_seed_dependent(small_model, other_model):
    a = small_model.keras_model.get_weights()
    b = other_model.keras_model.get_weights()
    assert not np.array_equal(a[0], b[0])
    seed_weights(other_model.keras_model, 0)
    assert all(np.array_equal(x, y) for x, y in zip(a, other_model.keras_model.get_weights()))
    seed_weights(other_model.keras_model, 1)
    assert all(np.array_equal(x, y) for x, y in zip(b, other_model.keras_model.get_weights()))


def test_round_trip_reproduces_outputs_exactly(saved, small_model, other_model, small_inputs,
                                               small_outputs):
    seed_weights(other_model.keras_model, 1)
    report = other_model.load_weights(str(saved))
    assert "conv1" in report["loaded"] and "rpn_model" in report["loaded"]
    assert report["not_in_file"] == [] and report["skipped"] == []
    for x, y in zip(small_model.keras_model.weights, other_model.keras_model.weights):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    outs = [np.asarray(t) for t in other_model.keras_model(small_inputs, training=False)]
    for got, want in zip(outs, small_outputs):
        np.testing.assert_array_equal(got, want)


def test_mismatched_heads_fail_clearly_unless_excluded(saved, small_model):
    other = MaskRCNN(get_config("small", NUM_CLASSES=3), seed=2)
    before = other.keras_model.get_layer("conv1").weights[0].numpy().copy()
    with pytest.raises(ValueError) as err:
        other.load_weights(str(saved))
    msg = str(err.value)
    assert "mrcnn_class_logits" in msg and "(1024, 4)" in msg and "(1024, 3)" in msg
    assert "exclude=" in msg
    # Nothing was assigned on failure.
    np.testing.assert_array_equal(other.keras_model.get_layer("conv1").weights[0].numpy(), before)
    report = other.load_weights(str(saved), exclude=HEAD_LAYERS)
    assert set(report["excluded"]) == {"mrcnn_class_logits", "mrcnn_bbox_fc", "mrcnn_mask"}
    assert report["skipped"] == []
    assert report["not_in_file"] == [] and "mrcnn_mask_deconv" in report["loaded"]
    np.testing.assert_array_equal(other.keras_model.get_layer("conv1").weights[0].numpy(),
                                  small_model.keras_model.get_layer("conv1").weights[0].numpy())


def test_loads_weights_saved_under_model_weights_and_by_order(tmp_path, small_model):
    # A file written by Keras 2 `model.save` keeps the layout under `model_weights`, and other
    # Keras versions name variables differently: loading must fall back to weight order.
    path = tmp_path / "full.h5"
    layer = small_model.keras_model.get_layer("fpn_c5p5")
    kernel, bias = (w.numpy() for w in layer.weights)
    with h5py.File(path, "w") as f:
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([b"fpn_c5p5"])
        lg = g.create_group("fpn_c5p5")
        lg.attrs["weight_names"] = np.array([b"fpn_c5p5_1/W:0", b"fpn_c5p5_1/b:0"])
        lg.create_dataset("fpn_c5p5_1/W:0", data=kernel + 1)
        lg.create_dataset("fpn_c5p5_1/b:0", data=bias + 2)
    other = MaskRCNN.__new__(MaskRCNN)
    other.keras_model = small_model.keras_model
    try:
        report = other.load_weights(str(path))
        assert report["loaded"] == ["fpn_c5p5"]
        np.testing.assert_array_equal(layer.weights[0].numpy(), kernel + 1)
        np.testing.assert_array_equal(layer.weights[1].numpy(), bias + 2)
    finally:
        layer.weights[0].assign(kernel)
        layer.weights[1].assign(bias)
