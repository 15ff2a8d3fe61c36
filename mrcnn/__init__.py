"""Clean-room Mask R-CNN (matterport reference design) for TensorFlow 2.21 / Keras 3.

``Config`` and ``get_config`` are numpy-only; ``MaskRCNN`` (TensorFlow + Keras) is imported lazily
on first access, so ``import mrcnn`` alone does not load TensorFlow.
"""
from mrcnn.config import Config, get_config

__all__ = ["Config", "MaskRCNN", "get_config"]


def __getattr__(name):
    if name == "MaskRCNN":
        from mrcnn.maskrcnn import MaskRCNN
        return MaskRCNN
    raise AttributeError(f"module 'mrcnn' has no attribute {name!r}")
