"""Box arithmetic, numpy and TensorFlow versions.

Boxes are ``[N, (y1, x1, y2, x2)]``. Deltas are ``[N, (dy, dx, log(dh), log(dw))]`` relative to the
box size and centre. Normalized coordinates follow the reference convention: pixel box
``(y1, x1, y2, x2)`` maps to ``(y1 / (h - 1), x1 / (w - 1), (y2 - 1) / (h - 1), (x2 - 1) / (w - 1))``,
i.e. (y2, x2) are exclusive in pixels and inclusive once normalized.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf


# ----------------------------------------------------------------------------------------- numpy

def apply_box_deltas(boxes: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    """Shift/scale ``boxes`` ``[N, 4]`` by ``deltas`` ``[N, 4]``; returns ``[N, (y1, x1, y2, x2)]``."""
    boxes = boxes.astype(np.float32)
    h = boxes[:, 2] - boxes[:, 0]
    w = boxes[:, 3] - boxes[:, 1]
    cy = boxes[:, 0] + 0.5 * h + deltas[:, 0] * h
    cx = boxes[:, 1] + 0.5 * w + deltas[:, 1] * w
    h = h * np.exp(deltas[:, 2])
    w = w * np.exp(deltas[:, 3])
    return np.stack([cy - 0.5 * h, cx - 0.5 * w, cy + 0.5 * h, cx + 0.5 * w], axis=1)


def box_refinement(box: np.ndarray, gt_box: np.ndarray) -> np.ndarray:
    """Deltas ``[N, (dy, dx, log(dh), log(dw))]`` that turn ``box`` into ``gt_box`` (both ``[N, 4]``)."""
    box = box.astype(np.float32)
    gt_box = gt_box.astype(np.float32)
    h = box[:, 2] - box[:, 0]
    w = box[:, 3] - box[:, 1]
    gh = gt_box[:, 2] - gt_box[:, 0]
    gw = gt_box[:, 3] - gt_box[:, 1]
    dy = (gt_box[:, 0] + 0.5 * gh - (box[:, 0] + 0.5 * h)) / h
    dx = (gt_box[:, 1] + 0.5 * gw - (box[:, 1] + 0.5 * w)) / w
    return np.stack([dy, dx, np.log(gh / h), np.log(gw / w)], axis=1)


def clip_boxes(boxes: np.ndarray, window) -> np.ndarray:
    """Clip ``boxes`` ``[N, 4]`` into ``window`` ``(wy1, wx1, wy2, wx2)`` (same units)."""
    wy1, wx1, wy2, wx2 = window
    out = np.empty_like(boxes)
    out[:, 0] = np.clip(boxes[:, 0], wy1, wy2)
    out[:, 1] = np.clip(boxes[:, 1], wx1, wx2)
    out[:, 2] = np.clip(boxes[:, 2], wy1, wy2)
    out[:, 3] = np.clip(boxes[:, 3], wx1, wx2)
    return out


def norm_boxes(boxes, shape) -> np.ndarray:
    """Pixel boxes ``[N, 4]`` -> normalized float32 boxes for an image of ``shape`` ``(h, w)``."""
    h, w = shape[:2]
    scale = np.array([h - 1, w - 1, h - 1, w - 1], dtype=np.float64)
    shift = np.array([0, 0, 1, 1], dtype=np.float64)
    return ((np.asarray(boxes, dtype=np.float64) - shift) / scale).astype(np.float32)


def denorm_boxes(boxes, shape) -> np.ndarray:
    """Normalized boxes ``[N, 4]`` -> rounded int32 pixel boxes for an image of ``shape`` ``(h, w)``."""
    h, w = shape[:2]
    scale = np.array([h - 1, w - 1, h - 1, w - 1], dtype=np.float64)
    shift = np.array([0, 0, 1, 1], dtype=np.float64)
    return np.around(np.asarray(boxes, dtype=np.float64) * scale + shift).astype(np.int32)


# ------------------------------------------------------------------------------------ TensorFlow

def apply_box_deltas_graph(boxes, deltas):
    """TF version of ``apply_box_deltas``: ``boxes`` ``[N, 4]``, ``deltas`` ``[N, 4]`` -> ``[N, 4]``."""
    h = boxes[:, 2] - boxes[:, 0]
    w = boxes[:, 3] - boxes[:, 1]
    cy = boxes[:, 0] + 0.5 * h + deltas[:, 0] * h
    cx = boxes[:, 1] + 0.5 * w + deltas[:, 1] * w
    h = h * tf.exp(deltas[:, 2])
    w = w * tf.exp(deltas[:, 3])
    return tf.stack([cy - 0.5 * h, cx - 0.5 * w, cy + 0.5 * h, cx + 0.5 * w], axis=1,
                    name="apply_box_deltas_out")


def clip_boxes_graph(boxes, window):
    """Clip ``boxes`` ``[N, 4]`` into ``window`` ``[4]`` ``(wy1, wx1, wy2, wx2)``; returns ``[N, 4]``."""
    wy1, wx1, wy2, wx2 = tf.split(window, 4)
    y1, x1, y2, x2 = tf.split(boxes, 4, axis=1)
    y1 = tf.maximum(tf.minimum(y1, wy2), wy1)
    x1 = tf.maximum(tf.minimum(x1, wx2), wx1)
    y2 = tf.maximum(tf.minimum(y2, wy2), wy1)
    x2 = tf.maximum(tf.minimum(x2, wx2), wx1)
    clipped = tf.concat([y1, x1, y2, x2], axis=1, name="clipped_boxes")
    clipped.set_shape((boxes.shape[0], 4))
    return clipped


def norm_boxes_graph(boxes, shape):
    """TF ``norm_boxes``: ``boxes`` ``[..., 4]`` pixels, ``shape`` ``[2]`` (h, w) -> normalized."""
    h, w = tf.split(tf.cast(shape, tf.float32), 2)
    scale = tf.concat([h, w, h, w], axis=-1) - tf.constant(1.0)
    shift = tf.constant([0.0, 0.0, 1.0, 1.0])
    return tf.divide(boxes - shift, scale)


def denorm_boxes_graph(boxes, shape):
    """TF ``denorm_boxes``: normalized ``[..., 4]`` -> int32 pixel boxes for ``shape`` ``[2]``."""
    h, w = tf.split(tf.cast(shape, tf.float32), 2)
    scale = tf.concat([h, w, h, w], axis=-1) - tf.constant(1.0)
    shift = tf.constant([0.0, 0.0, 1.0, 1.0])
    return tf.cast(tf.round(tf.multiply(boxes, scale) + shift), tf.int32)
