"""Box coding, clipping and normalization, for numpy arrays and TensorFlow tensors.

Box format everywhere: ``[N, (y1, x1, y2, x2)]``. Deltas: ``[N, (dy, dx, log(dh), log(dw))]``,
the centre shift as a fraction of the box size and the log of the size ratio.

The decode formula is written once (``_decode``) and run with numpy or TensorFlow functions; its
float operations and their order are the reference's, which keeps TensorFlow results bitwise
equal to it: centre = corner + size/2, then + delta * size; size * exp(log-ratio); new corner =
centre - size/2, far corner = new corner + size (not centre + size/2).

Normalized coordinates (reference convention): for an image ``(h, w)``, pixel box
``(y1, x1, y2, x2)`` <-> ``((y1) / (h-1), (x1) / (w-1), (y2-1) / (h-1), (x2-1) / (w-1))``:
(y2, x2) are exclusive in pixels and inclusive once normalized.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

_SHIFT = (0.0, 0.0, 1.0, 1.0)  # pixel -> normalized: the far corner moves inside the box


def _columns(a):
    return [a[:, k] for k in range(4)]


def _decode(boxes, deltas, exp, stack):
    top, left, bottom, right = _columns(boxes)
    dy, dx, log_dh, log_dw = _columns(deltas)
    height, width = bottom - top, right - left
    center_y = (top + 0.5 * height) + dy * height
    center_x = (left + 0.5 * width) + dx * width
    height = height * exp(log_dh)
    width = width * exp(log_dw)
    new_top = center_y - 0.5 * height
    new_left = center_x - 0.5 * width
    return stack([new_top, new_left, new_top + height, new_left + width])


def decode_boxes(boxes: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    """Move/resize ``boxes`` ``[N, 4]`` by ``deltas`` ``[N, 4]``; float32 ``[N, 4]`` (numpy)."""
    return _decode(boxes.astype(np.float32), deltas, np.exp, lambda c: np.stack(c, axis=1))


def decode_boxes_tf(boxes, deltas):
    """TensorFlow ``decode_boxes``: ``boxes`` ``[N, 4]``, ``deltas`` ``[N, 4]`` -> ``[N, 4]``."""
    return _decode(boxes, deltas, tf.exp, lambda c: tf.stack(c, axis=1))


def encode_boxes(boxes: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Deltas ``[N, 4]`` that ``decode_boxes`` turns ``boxes`` into ``targets`` (both ``[N, 4]``)."""
    def centre_and_size(b):
        top, left, bottom, right = _columns(b.astype(np.float32))
        height, width = bottom - top, right - left
        return top + 0.5 * height, left + 0.5 * width, height, width
    cy, cx, h, w = centre_and_size(boxes)
    tcy, tcx, th, tw = centre_and_size(targets)
    return np.stack([(tcy - cy) / h, (tcx - cx) / w, np.log(th / h), np.log(tw / w)], axis=1)


def _window_bounds(window):
    """``(lower [4], upper [4])`` per box column for a window ``(wy1, wx1, wy2, wx2)``."""
    return [window[k] for k in (0, 1, 0, 1)], [window[k] for k in (2, 3, 2, 3)]


def clip_boxes(boxes: np.ndarray, window) -> np.ndarray:
    """Clamp every coordinate of ``boxes`` ``[N, 4]`` into ``window`` ``(wy1, wx1, wy2, wx2)``."""
    lower, upper = _window_bounds(window)
    return np.minimum(np.maximum(boxes, np.asarray(lower)), np.asarray(upper)).astype(boxes.dtype)


def clip_boxes_tf(boxes, window):
    """TensorFlow ``clip_boxes``: ``boxes`` ``[N, 4]``, ``window`` ``[4]`` (same units) -> ``[N, 4]``.
    (min/max are exact, so the clamp order does not change a value.)"""
    lower = tf.gather(window, [0, 1, 0, 1])
    upper = tf.gather(window, [2, 3, 2, 3])
    return tf.minimum(tf.maximum(boxes, lower), upper)


def normalize_boxes(boxes, shape) -> np.ndarray:
    """Pixel boxes ``[N, 4]`` -> normalized float32 for an image of ``shape`` ``(h, w, ...)``
    (computed in float64, rounded once)."""
    h, w = shape[:2]
    extent = np.array([h, w, h, w], dtype=np.float64) - 1.0
    return ((np.asarray(boxes, dtype=np.float64) - _SHIFT) / extent).astype(np.float32)


def denormalize_boxes(boxes, shape) -> np.ndarray:
    """Normalized boxes ``[N, 4]`` -> int32 pixel boxes (rounded half to even) for ``shape``."""
    h, w = shape[:2]
    extent = np.array([h, w, h, w], dtype=np.float64) - 1.0
    return np.around(np.asarray(boxes, dtype=np.float64) * extent + _SHIFT).astype(np.int32)


def normalize_boxes_tf(boxes, shape):
    """TensorFlow ``normalize_boxes`` in float32: ``boxes`` ``[..., 4]`` pixels, ``shape``
    ``[2]`` ``(h, w)`` (any numeric dtype) -> ``[..., 4]`` normalized."""
    h, w = tf.unstack(tf.cast(shape[:2], tf.float32))
    extent = tf.stack([h, w, h, w]) - 1.0
    return (boxes - tf.constant(_SHIFT)) / extent
