"""mrcnn against the reference code (tests/mrcnn/reference.py): identical inputs and outputs.

The reference model gets seeded, calibrated non-trivial weights (BatchNorm statistics, gamma,
beta and biases away from their defaults; detections at the default 0.7 threshold), saved by
tf_keras ``save_weights``; ``mrcnn`` loads that file. Measured (eager, TF 2.21, this machine):
every output of small and COCO bitwise equal, every ROI row included.
"""
import random

import numpy as np
import pytest

from tests.mrcnn import reference

pytestmark = pytest.mark.skipif(reference.unavailable() is not None,
                                reason=str(reference.unavailable()))


def _max_rel(got, want) -> float:
    return float(np.abs(got.astype(np.float64) - want).max() / (np.abs(want).max() or 1.0))


def assert_outputs_equal(net, run):
    """Every output of ``net.keras_model`` on the reference's inputs equals the reference's,
    bit for bit; the failure message lists each output's max relative error and the ROI rows
    that differ."""
    got = [np.asarray(t) for t in net.keras_model(run.inputs, training=False)]
    report = {}
    for name, value in zip(reference.OUTPUT_NAMES, got):
        want = run.outputs[name]
        assert value.shape == want.shape, name
        if not np.array_equal(value, want):
            rows = np.flatnonzero((value != want).reshape(value.shape[0] * value.shape[1], -1)
                                  .any(axis=1))
            report[name] = (_max_rel(value, want), rows[:10].tolist())
    assert not report, f"differs from the reference (max rel error, first rows): {report}"


def _check_config(name, tmp_path):
    from mrcnn import MaskRCNN, get_config
    run = reference.run_reference(tmp_path, config=name)
    assert run.notes["detections"] > 0, "weights too weak: no detection at 0.7"
    net = MaskRCNN(get_config(name), seed=None)
    report = net.load_weights(str(run.weights))
    assert report["not_in_file"] == [] and report["excluded"] == [] and report["skipped"] == []
    assert {"conv1", "bn_conv1", "rpn_model", "mrcnn_mask"} <= set(report["loaded"])
    np.testing.assert_array_equal(net.mold_inputs(reference.sample_images())[0], run.inputs[0])
    assert_outputs_equal(net, run)
    return net, run


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return _check_config("small", tmp_path_factory.mktemp("ref-small"))


def test_small_outputs_bitwise_equal_to_reference(small):
    net, run = small
    # The weights are not the initialisers' defaults (what hid the differences before).
    bn = net.keras_model.get_layer("bn_conv1")
    assert not np.allclose(bn.moving_variance.numpy(), 1.0)
    assert not np.allclose(bn.beta.numpy(), 0.0)
    assert not np.allclose(net.keras_model.get_layer("mrcnn_class_logits").weights[1].numpy(), 0)


@pytest.mark.slow
def test_coco_outputs_bitwise_equal_to_reference(tmp_path):
    _check_config("coco", tmp_path)


def test_reference_weights_load_with_exclude_and_name_the_first_bad_layer(small):
    from mrcnn import MaskRCNN, get_config
    from mrcnn.weights import HEAD_LAYERS, WeightsMismatchError, plan_load
    _, run = small
    other = MaskRCNN(get_config("small", NUM_CLASSES=3), seed=1)
    before = other.keras_model.get_layer("conv1").weights[0].numpy().copy()
    with pytest.raises(WeightsMismatchError) as err:
        other.load_weights(str(run.weights))
    assert err.value.layer == "mrcnn_class_logits"  # the first head in the file's layer order
    assert "(1024, 4)" in str(err.value) and "(1024, 3)" in str(err.value)
    assert "exclude=" in str(err.value)
    np.testing.assert_array_equal(other.keras_model.get_layer("conv1").weights[0].numpy(), before)
    _, planned = plan_load(other.keras_model, str(run.weights), exclude=HEAD_LAYERS)
    np.testing.assert_array_equal(other.keras_model.get_layer("conv1").weights[0].numpy(), before)
    report = other.load_weights(str(run.weights), exclude=HEAD_LAYERS)
    assert report == planned and report["keras_version"].startswith("2.")
    assert set(report["excluded"]) == {"mrcnn_class_logits", "mrcnn_bbox_fc", "mrcnn_mask"}
    assert report["not_in_file"] == [] and "mrcnn_mask_deconv" in report["loaded"]


#: Sizes and aspect ratios: landscape, portrait, square, tiny, already 256, very elongated.
SHAPES = [(300, 400, 3), (480, 640, 3), (200, 200, 3), (123, 457, 3), (640, 97, 3),
          (256, 256, 3), (77, 55, 3)]
VARIANTS = [{}, {"IMAGE_RESIZE_MODE": "pad64", "IMAGE_MIN_DIM": 128},
            {"IMAGE_RESIZE_MODE": "crop", "IMAGE_MIN_DIM": 64}, {"IMAGE_RESIZE_MODE": "none"}]


def test_mold_inputs_and_anchors_equal_reference(tmp_path):
    from mrcnn import MaskRCNN, get_config
    from mrcnn.resize import resize_image
    rng = np.random.default_rng(5)
    images = [rng.integers(0, 256, s).astype(np.uint8) for s in SHAPES]
    for image in images:
        image[: image.shape[0] // 3] = 100  # flat area: equal neighbours must stay exact
    results = reference.reference_mold(tmp_path, images, variants=VARIANTS)
    for overrides, per_image in zip(VARIANTS, results):
        cfg = get_config("small", **overrides)
        net = MaskRCNN.__new__(MaskRCNN)  # only the input side: no Keras model needed
        net.config, net._anchor_cache, net.anchors = cfg, {}, None
        for i, (image, want) in enumerate(zip(images, per_image)):
            where = f"{overrides} image {image.shape}"
            random.seed(i)
            resized, window, scale, padding, _ = resize_image(
                image, cfg.IMAGE_MIN_DIM, cfg.IMAGE_MAX_DIM, cfg.IMAGE_MIN_SCALE,
                cfg.IMAGE_RESIZE_MODE)
            np.testing.assert_array_equal(resized, want["resized"], err_msg=where)
            assert tuple(window) == tuple(want["window"]) and scale == want["scale"], where
            random.seed(i)
            molded, metas, windows = net.mold_images([image])
            np.testing.assert_array_equal(molded, want["molded"].astype(np.float32), where)
            np.testing.assert_array_equal(metas, want["metas"].astype(np.float32), where)
            np.testing.assert_array_equal(windows, want["windows"], where)
            np.testing.assert_array_equal(net.get_anchors(molded[0].shape), want["anchors"],
                                          where)
