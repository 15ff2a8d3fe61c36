"""Small-config model: graph contract, reference names/shapes, detect(), determinism."""
import numpy as np
import pytest

from mrcnn import MaskRCNN, get_config
from mrcnn.model import OUTPUT_NAMES

# (layer name, index of the weight, reference shape) for the small config (resnet50, 4 classes).
REFERENCE_SHAPES = [
    ("conv1", 0, (7, 7, 3, 64)), ("bn_conv1", 0, (64,)),
    ("res2a_branch2a", 0, (1, 1, 64, 64)), ("bn2a_branch2a", 0, (64,)),
    ("res2a_branch2b", 0, (3, 3, 64, 64)), ("res2a_branch1", 0, (1, 1, 64, 256)),
    ("bn2a_branch1", 3, (256,)), ("res3a_branch1", 0, (1, 1, 256, 512)),
    ("res4f_branch2c", 0, (1, 1, 256, 1024)), ("res5a_branch2b", 0, (3, 3, 512, 512)),
    ("res5c_branch2c", 0, (1, 1, 512, 2048)), ("bn5c_branch2c", 0, (2048,)),
    ("fpn_c5p5", 0, (1, 1, 2048, 256)), ("fpn_c4p4", 0, (1, 1, 1024, 256)),
    ("fpn_c3p3", 0, (1, 1, 512, 256)), ("fpn_c2p2", 0, (1, 1, 256, 256)),
    ("fpn_p2", 0, (3, 3, 256, 256)), ("fpn_p5", 0, (3, 3, 256, 256)),
    ("mrcnn_class_conv1", 0, (7, 7, 256, 1024)), ("mrcnn_class_bn1", 0, (1024,)),
    ("mrcnn_class_conv2", 0, (1, 1, 1024, 1024)), ("mrcnn_class_bn2", 2, (1024,)),
    ("mrcnn_class_logits", 0, (1024, 4)), ("mrcnn_bbox_fc", 0, (1024, 16)),
    ("mrcnn_mask_conv1", 0, (3, 3, 256, 256)), ("mrcnn_mask_conv4", 0, (3, 3, 256, 256)),
    ("mrcnn_mask_bn4", 0, (256,)), ("mrcnn_mask_deconv", 0, (2, 2, 256, 256)),
    ("mrcnn_mask", 0, (1, 1, 256, 4)),
]
WEIGHTLESS = ["input_image", "input_image_meta", "input_anchors", "fpn_p5upsampled",
              "fpn_p4upsampled", "fpn_p3upsampled", "fpn_p4add", "fpn_p3add", "fpn_p2add",
              "fpn_p6", "rpn_class", "rpn_bbox", "ROI", "roi_align_classifier",
              "roi_align_mask", "pool_squeeze", "mrcnn_class", "mrcnn_bbox", "mrcnn_detection",
              "res2a_out", "res5c_out"]


def test_reference_layer_names_and_weight_shapes(small_model):
    km = small_model.keras_model
    for name, index, shape in REFERENCE_SHAPES:
        assert tuple(km.get_layer(name).weights[index].shape) == shape, name
    for name in WEIGHTLESS:
        km.get_layer(name)
    rpn = km.get_layer("rpn_model")
    shapes = {l.name: tuple(l.weights[0].shape) for l in rpn.layers if l.weights}
    assert shapes == {"rpn_conv_shared": (3, 3, 256, 512), "rpn_class_raw": (1, 1, 512, 6),
                      "rpn_bbox_pred": (1, 1, 512, 12)}
    names = {l.name for l in km.layers}
    assert "res4f_branch2c" in names and "res4g_branch2a" not in names  # resnet50: 6 blocks
    assert km.name == "mask_rcnn"
    # rpn_model's three outputs, per level; only rpn_class/rpn_bbox are model outputs (reference).
    assert [o.shape[-1] for o in rpn.outputs] == [2, 2, 4]


def test_inputs_outputs_contract(small_model, small_outputs):
    km = small_model.keras_model
    assert [tuple(i.shape) for i in km.inputs] == [(None, 256, 256, 3), (None, 16), (None, None, 4)]
    producers = [km.get_layer(n).output for n in OUTPUT_NAMES]
    assert [id(o) for o in km.outputs] == [id(p) for p in producers]
    expected = [(1, 16, 6), (1, 64, 4), (1, 64, 4, 4), (1, 16, 28, 28, 4), (1, 64, 4),
                (1, 16368, 2), (1, 16368, 4)]
    assert [o.shape for o in small_outputs] == expected
    det, _, _, mask, rois, rpn_class, _ = small_outputs
    np.testing.assert_allclose(rpn_class.sum(-1), 1, rtol=1e-5)
    assert (rois >= 0).all() and (rois <= 1).all()
    assert ((mask >= 0) & (mask <= 1)).all()
    live = det[0, det[0, :, 4] > 0]
    assert len(live) > 0, "seed 0, DETECTION_MIN_CONFIDENCE=0 should give detections"
    assert (np.diff(live[:, 5]) <= 0).all()  # sorted by score


def test_batchnorm_frozen_even_in_training_call(small_model, small_inputs, small_outputs):
    # TRAIN_BN=False: an outer training=True must not switch BN to batch statistics.
    outs = small_model.keras_model(small_inputs, training=True)
    np.testing.assert_array_equal(np.asarray(outs[1]), small_outputs[1])
    np.testing.assert_array_equal(np.asarray(outs[0]), small_outputs[0])


def test_detect_returns_image_resolution_results(small_model, sample_image, small_outputs):
    (r,) = small_model.detect([sample_image])
    assert set(r) == {"rois", "class_ids", "scores", "masks"}
    n = len(r["class_ids"])
    assert n == int((small_outputs[0][0, :, 4] > 0).sum())
    assert r["rois"].shape == (n, 4) and r["scores"].shape == (n,)
    assert r["masks"].shape == (300, 400, n) and r["masks"].dtype == bool
    assert ((r["class_ids"] >= 1) & (r["class_ids"] < 4)).all()
    assert (r["rois"][:, :2] >= 0).all() and (r["rois"][:, 2] <= 300).all()
    assert (r["rois"][:, 3] <= 400).all()
    for i in range(n):  # every mask pixel lies inside its box
        y1, x1, y2, x2 = r["rois"][i]
        outside = r["masks"][:, :, i].copy()
        outside[y1:y2, x1:x2] = False
        assert not outside.any()


def test_detect_is_deterministic(small_model, sample_image):
    a = small_model.detect([sample_image])[0]
    b = small_model.detect([sample_image])[0]
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_anchor_input_and_batch_guard(small_model, sample_image):
    anchors = small_model.get_anchors((256, 256, 3))
    assert anchors.shape == (16368, 4) and anchors.dtype == np.float32
    assert small_model.anchors.shape == (16368, 4)  # pixel anchors kept
    with pytest.raises(ValueError, match="BATCH_SIZE"):
        small_model.detect([sample_image, sample_image])


def test_training_mode_is_explicitly_unimplemented():
    with pytest.raises(NotImplementedError, match="training"):
        MaskRCNN(get_config("small"), mode="training")
    with pytest.raises(ValueError, match="multiples of 64"):
        MaskRCNN(get_config("small", IMAGE_MAX_DIM=250, IMAGE_MIN_DIM=250))


def test_mold_inputs_returns_the_three_model_inputs(small_model, sample_image):
    cfg = small_model.config
    image, meta, anchors = small_model.mold_inputs([sample_image])
    assert image.shape == (1, *map(int, cfg.IMAGE_SHAPE))
    assert image.dtype == np.float32
    assert meta.shape == (1, cfg.IMAGE_META_SIZE)
    assert anchors.shape[0] == 1 and anchors.shape[2] == 4 and anchors.dtype == np.float32
    assert 0.0 - 1.0 <= anchors.min() and anchors.max() <= 2.0  # normalized coordinates
    out = small_model.keras_model([image, meta, anchors], training=False)
    assert len(out) == 7


def test_pad64_mode_takes_images_of_their_own_size():
    from mrcnn.maskrcnn import MaskRCNN as Net
    net = Net(get_config("small", IMAGE_RESIZE_MODE="pad64", IMAGE_MIN_DIM=128,
                         DETECTION_MIN_CONFIDENCE=0.0), seed=0)
    assert net.keras_model.inputs[0].shape[1:3] == (None, None)
    image = np.random.default_rng(1).integers(0, 256, (150, 300, 3)).astype(np.uint8)
    inputs = net.mold_inputs([image])
    assert inputs[0].shape == (1, 192, 320, 3)  # never scaled down: 150 x 300 padded to 64s
    outputs = net.keras_model(inputs, training=False)
    assert tuple(outputs[4].shape) == (1, 64, 4) and tuple(outputs[5].shape)[1] == len(inputs[2][0])
    result = net.detect([image])[0]
    assert result["masks"].shape[:2] == (150, 300)
