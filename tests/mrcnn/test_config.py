import numpy as np
import pytest

from mrcnn import Config, get_config
from mrcnn.config import compute_backbone_shapes


def test_small_preset_derived_fields():
    cfg = get_config("small")
    assert cfg.BACKBONE == "resnet50" and cfg.NUM_CLASSES == 4
    assert cfg.BATCH_SIZE == cfg.IMAGES_PER_GPU * cfg.GPU_COUNT == 1
    assert list(cfg.IMAGE_SHAPE) == [256, 256, 3]
    assert cfg.IMAGE_META_SIZE == 12 + 4
    assert cfg.POST_NMS_ROIS_INFERENCE <= 100 and cfg.DETECTION_MAX_INSTANCES == 16
    assert cfg.BACKBONE_SHAPES.tolist() == [[64, 64], [32, 32], [16, 16], [8, 8], [4, 4]]


def test_coco_preset():
    cfg = get_config("coco")
    assert list(cfg.IMAGE_SHAPE) == [1024, 1024, 3]
    assert (cfg.BACKBONE, cfg.NUM_CLASSES) == ("resnet101", 81)
    assert cfg.POST_NMS_ROIS_INFERENCE == 1000 and cfg.DETECTION_MAX_INSTANCES == 100
    assert cfg.IMAGE_META_SIZE == 93


def test_overrides_recompute_derived_and_do_not_leak():
    cfg = get_config("small", NUM_CLASSES=7, IMAGE_MAX_DIM=320, DETECTION_MIN_CONFIDENCE=0.0)
    assert cfg.IMAGE_META_SIZE == 19 and list(cfg.IMAGE_SHAPE) == [320, 320, 3]
    assert cfg.DETECTION_MIN_CONFIDENCE == 0.0
    assert get_config("small").NUM_CLASSES == 4  # class attribute untouched


def test_unknown_names_raise():
    with pytest.raises(AttributeError, match="NUM_CLASSEZ"):
        get_config("small", NUM_CLASSEZ=3)
    with pytest.raises(ValueError, match="unknown config"):
        get_config("nope")


def test_base_config_and_backbone_shapes_ceil():
    cfg = Config()
    assert cfg.BATCH_SIZE == 1 and cfg.IMAGE_META_SIZE == 13
    shapes = compute_backbone_shapes(cfg, (100, 130, 3))
    assert shapes.tolist() == [[25, 33], [13, 17], [7, 9], [4, 5], [2, 3]]
    assert np.allclose(cfg.BBOX_STD_DEV, [0.1, 0.1, 0.2, 0.2])
