"""Mask R-CNN configuration (reference attribute names, numpy only, no TensorFlow).

``Config`` carries the knobs of the reference design under their reference names.
Derived fields are computed in ``__init__`` (and again by ``refresh()`` after overrides):

* ``BATCH_SIZE = IMAGES_PER_GPU * GPU_COUNT``
* ``IMAGE_SHAPE = [IMAGE_MAX_DIM, IMAGE_MAX_DIM, IMAGE_CHANNEL_COUNT]`` (``[IMAGE_MIN_DIM,
  IMAGE_MIN_DIM, C]`` for "crop"; in "pad64" and "none" the molded size follows each image and
  the model's ``input_image`` is ``[None, None, C]``)
* ``IMAGE_META_SIZE = 1 + 3 + 3 + 4 + 1 + NUM_CLASSES`` (see ``mrcnn.image.compose_image_meta``)
* ``BACKBONE_SHAPES``: ``[len(BACKBONE_STRIDES), 2]`` feature-map (h, w) per pyramid level P2..P6,
  ``ceil(IMAGE_SHAPE[:2] / stride)``.

``get_config(name, **overrides)`` returns the named preset ("coco" or "small") with overrides applied.
"""
from __future__ import annotations

import math

import numpy as np


class Config:
    """Base configuration; subclass or use ``get_config`` and override attributes."""

    NAME = None
    GPU_COUNT = 1
    IMAGES_PER_GPU = 1  # inference: one image per forward pass (reference trains with 2)

    BACKBONE = "resnet101"  # "resnet50" or "resnet101"
    BACKBONE_STRIDES = [4, 8, 16, 32, 64]  # P2..P6
    FPN_CLASSIF_FC_LAYERS_SIZE = 1024
    TOP_DOWN_PYRAMID_SIZE = 256
    NUM_CLASSES = 1  # including background

    RPN_ANCHOR_SCALES = (32, 64, 128, 256, 512)  # square anchor side (pixels), one per level
    RPN_ANCHOR_RATIOS = [0.5, 1, 2]  # width / height
    RPN_ANCHOR_STRIDE = 1
    RPN_NMS_THRESHOLD = 0.7
    RPN_TRAIN_ANCHORS_PER_IMAGE = 256
    PRE_NMS_LIMIT = 6000
    POST_NMS_ROIS_TRAINING = 2000
    POST_NMS_ROIS_INFERENCE = 1000

    USE_MINI_MASK = True
    MINI_MASK_SHAPE = (56, 56)

    IMAGE_RESIZE_MODE = "square"  # "square", "pad64", "crop" or "none": see mrcnn.resize
    IMAGE_MIN_DIM = 800
    IMAGE_MAX_DIM = 1024
    IMAGE_MIN_SCALE = 0
    IMAGE_CHANNEL_COUNT = 3
    MEAN_PIXEL = np.array([123.7, 116.8, 103.9])

    TRAIN_ROIS_PER_IMAGE = 200
    ROI_POSITIVE_RATIO = 0.33
    POOL_SIZE = 7
    MASK_POOL_SIZE = 14
    MASK_SHAPE = [28, 28]
    MAX_GT_INSTANCES = 100

    RPN_BBOX_STD_DEV = np.array([0.1, 0.1, 0.2, 0.2])
    BBOX_STD_DEV = np.array([0.1, 0.1, 0.2, 0.2])

    DETECTION_MAX_INSTANCES = 100
    DETECTION_MIN_CONFIDENCE = 0.7
    DETECTION_NMS_THRESHOLD = 0.3

    LEARNING_RATE = 0.001
    LEARNING_MOMENTUM = 0.9
    WEIGHT_DECAY = 0.0001
    USE_RPN_ROIS = True
    # False: BatchNorm layers frozen (moving statistics, training=False), as the reference default.
    TRAIN_BN = False
    GRADIENT_CLIP_NORM = 5.0

    def __init__(self, **overrides):
        for key, value in overrides.items():
            if not key.isupper() or not hasattr(self, key):
                raise AttributeError(f"unknown Mask R-CNN config attribute {key!r}")
            setattr(self, key, value)
        self.refresh()

    def refresh(self) -> "Config":
        """Recompute the derived fields; call after changing attributes by hand."""
        self.BATCH_SIZE = self.IMAGES_PER_GPU * self.GPU_COUNT
        dim = self.IMAGE_MIN_DIM if self.IMAGE_RESIZE_MODE == "crop" else self.IMAGE_MAX_DIM
        self.IMAGE_SHAPE = np.array([dim, dim, self.IMAGE_CHANNEL_COUNT])
        self.IMAGE_META_SIZE = 1 + 3 + 3 + 4 + 1 + self.NUM_CLASSES
        self.BACKBONE_SHAPES = compute_backbone_shapes(self, self.IMAGE_SHAPE)
        return self

    def to_dict(self) -> dict:
        """All upper-case attributes (class and instance) as a plain dict."""
        return {k: getattr(self, k) for k in dir(self) if k.isupper()}

    def display(self) -> None:
        for key, value in sorted(self.to_dict().items()):
            print(f"{key:30} {value}")


def compute_backbone_shapes(config: Config, image_shape) -> np.ndarray:
    """Feature map sizes per pyramid level: ``[len(BACKBONE_STRIDES), (h, w)]`` int array."""
    if config.BACKBONE not in ("resnet50", "resnet101"):
        raise ValueError(f"BACKBONE must be 'resnet50' or 'resnet101', got {config.BACKBONE!r}")
    return np.array([[int(math.ceil(image_shape[0] / s)), int(math.ceil(image_shape[1] / s))]
                     for s in config.BACKBONE_STRIDES])


class CocoConfig(Config):
    """Reference COCO inference setup: 1024x1024, ResNet-101, 80 classes + background."""
    NAME = "coco"
    NUM_CLASSES = 81
    BACKBONE = "resnet101"
    IMAGE_MIN_DIM = 800
    IMAGE_MAX_DIM = 1024
    POST_NMS_ROIS_INFERENCE = 1000
    DETECTION_MAX_INSTANCES = 100


class SmallConfig(Config):
    """Small test setup: 256x256, ResNet-50, 3 classes + background.

    Layer widths are the reference ones (FPN 256, classifier FC 1024) so weight shapes match the
    reference; only image size, backbone depth, anchor scales (halved for the smaller image:
    16..256 px), PRE_NMS_LIMIT (1000), POST_NMS_ROIS_INFERENCE (64) and DETECTION_MAX_INSTANCES (16)
    are reduced, to keep conversion and tests cheap.
    """
    NAME = "small"
    NUM_CLASSES = 4
    BACKBONE = "resnet50"
    IMAGE_MIN_DIM = 256
    IMAGE_MAX_DIM = 256
    RPN_ANCHOR_SCALES = (16, 32, 64, 128, 256)
    PRE_NMS_LIMIT = 1000
    POST_NMS_ROIS_INFERENCE = 64
    DETECTION_MAX_INSTANCES = 16


_PRESETS = {"coco": CocoConfig, "small": SmallConfig}


def get_config(name: str = "small", **overrides) -> Config:
    """Return a fresh preset config ("coco" or "small") with ``overrides`` applied.

    Example: ``get_config("small", DETECTION_MIN_CONFIDENCE=0.0)``. Unknown attribute names raise.
    """
    try:
        cls = _PRESETS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown config {name!r}; choose one of {sorted(_PRESETS)}") from None
    return cls(**overrides)
