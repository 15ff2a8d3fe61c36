"""Region Proposal Network: one shared sub-model ``rpn_model`` applied to every pyramid level.

Per level, for a feature map ``[B, h, w, depth]`` and ``A = len(RPN_ANCHOR_RATIOS)`` anchors per cell:

* ``rpn_conv_shared``: 3x3 conv, 512 channels, ReLU, stride ``RPN_ANCHOR_STRIDE``
* ``rpn_class_raw``: 1x1 conv, ``2 * A`` channels -> ``rpn_class_logits`` ``[B, h*w*A, 2]``
  (bg, fg) and their softmax ``rpn_class`` ``[B, h*w*A, 2]``
* ``rpn_bbox_pred``: 1x1 conv, ``4 * A`` channels -> ``rpn_bbox`` ``[B, h*w*A, (dy, dx, log(dh), log(dw))]``

The flattening order (row, column, anchor) matches ``mrcnn.anchors.generate_pyramid_anchors``.
``build_rpn_outputs`` concatenates the levels along axis 1 into the model-level tensors named
``rpn_class_logits``, ``rpn_class`` and ``rpn_bbox``.
"""
from __future__ import annotations

import keras
from keras import layers as KL


def rpn_graph(feature_map, anchors_per_location: int, anchor_stride: int):
    """RPN head on one feature map ``[B, h, w, depth]``; returns ``[logits, probs, bbox]``."""
    shared = KL.Conv2D(512, (3, 3), padding="same", activation="relu", strides=anchor_stride,
                       name="rpn_conv_shared")(feature_map)
    x = KL.Conv2D(2 * anchors_per_location, (1, 1), padding="valid", activation="linear",
                  name="rpn_class_raw")(shared)
    rpn_class_logits = KL.Reshape((-1, 2), name="rpn_class_logits_reshape")(x)
    rpn_probs = KL.Activation("softmax", name="rpn_class_xxx")(rpn_class_logits)
    x = KL.Conv2D(anchors_per_location * 4, (1, 1), padding="valid", activation="linear",
                  name="rpn_bbox_pred")(shared)
    rpn_bbox = KL.Reshape((-1, 4), name="rpn_bbox_reshape")(x)
    return [rpn_class_logits, rpn_probs, rpn_bbox]


def build_rpn_model(anchor_stride: int, anchors_per_location: int, depth: int) -> keras.Model:
    """The shared RPN sub-model ``rpn_model``: input ``input_rpn_feature_map`` ``[B, None, None, depth]``."""
    feature_map = KL.Input(shape=[None, None, depth], name="input_rpn_feature_map")
    outputs = rpn_graph(feature_map, anchors_per_location, anchor_stride)
    return keras.Model([feature_map], outputs, name="rpn_model")


def build_rpn_outputs(rpn_model: keras.Model, feature_maps):
    """Apply ``rpn_model`` to each of ``feature_maps`` (P2..P6) and concatenate per output.

    Returns ``[rpn_class_logits, rpn_class, rpn_bbox]`` with shapes ``[B, N, 2]``, ``[B, N, 2]``,
    ``[B, N, 4]``; N is the total anchor count over all levels.
    """
    per_level = [rpn_model([p]) for p in feature_maps]
    names = ["rpn_class_logits", "rpn_class", "rpn_bbox"]
    return [KL.Concatenate(axis=1, name=name)([level[i] for level in per_level])
            for i, name in enumerate(names)]
