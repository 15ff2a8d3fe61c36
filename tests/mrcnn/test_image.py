import numpy as np
import pytest

from mrcnn import get_config
from mrcnn import image as im


def test_mold_unmold_and_meta():
    cfg = get_config("small")
    img = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3) + 150
    np.testing.assert_array_equal(im.unmold_image(im.mold_image(img, cfg), cfg), img)
    meta = im.compose_image_meta(5, (300, 400, 3), (256, 256, 3), (32, 0, 224, 256), 0.64,
                                 np.zeros(cfg.NUM_CLASSES))
    assert meta.shape == (cfg.IMAGE_META_SIZE,)
    p = im.parse_image_meta(meta[None])
    assert p["image_id"][0] == 5 and p["original_image_shape"][0].tolist() == [300, 400, 3]
    assert p["image_shape"][0].tolist() == [256, 256, 3]
    assert p["window"][0].tolist() == [32, 0, 224, 256]
    assert p["scale"][0] == pytest.approx(0.64) and p["active_class_ids"].shape == (1, 4)


def test_unmold_mask_pastes_in_box():
    mask = np.zeros((28, 28), dtype=np.float32)
    mask[:, 14:] = 1.0  # right half on
    full = im.unmold_mask(mask, (10, 20, 30, 60), (50, 80, 3))
    assert full.shape == (50, 80) and full.dtype == bool
    assert full[10:30, 40:60].all()
    assert not full[10:30, 20:40].any()
    assert full.sum() == 20 * 20
    # A box crossing the image border is cut, not wrapped.
    cut = im.unmold_mask(np.ones((28, 28)), (-5, 70, 10, 90), (50, 80, 3))
    assert cut.sum() == 10 * 10 and cut[0:10, 70:80].all()


def test_unmold_detections_maps_to_original_pixels():
    # Molded 256x256 holding a 300x400 image at window (32, 0, 224, 256), scale 0.64.
    window = np.array([32, 0, 224, 256])
    det = np.zeros((4, 6), dtype=np.float32)
    # A box covering original pixels rows 100..200, cols 40..140.
    from mrcnn.box_utils import normalize_boxes
    molded_px = np.array([[32 + 100 * 0.64, 40 * 0.64, 32 + 200 * 0.64, 140 * 0.64]])
    det[0, :4] = normalize_boxes(molded_px, (256, 256))[0]
    det[0, 4:] = [2, 0.9]
    masks = np.zeros((4, 28, 28, 3), dtype=np.float32)
    masks[0, :, :, 2] = 1.0
    rois, class_ids, scores, full = im.unmold_detections(det, masks, (300, 400, 3), (256, 256, 3),
                                                         window)
    assert class_ids.tolist() == [2] and scores.tolist() == pytest.approx([0.9])
    np.testing.assert_allclose(rois[0], [100, 40, 200, 140], atol=1)
    assert full.shape == (300, 400, 1) and full[110:190, 50:130, 0].all()
    assert not full[:95, :, 0].any()
