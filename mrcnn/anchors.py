"""Anchor generation (numpy only).

Anchors are pixel boxes ``[N, (y1, x1, y2, x2)]`` in the molded image frame. For level ``i`` with
feature map ``(h, w)`` and stride ``s``, anchors are centred on ``(row * s, col * s)`` for every
``anchor_stride``-th cell (centres start at 0, as in the reference), with one box per ratio
(``width / height``): ``height = scale / sqrt(ratio)``, ``width = scale * sqrt(ratio)``.

Order: level, then row, then column, then ratio (the RPN flattening order).
"""
from __future__ import annotations

import numpy as np


def generate_anchors(scales, ratios, shape, feature_stride, anchor_stride) -> np.ndarray:
    """Anchors of one level: ``[rows * cols * len(scales) * len(ratios), (y1, x1, y2, x2)]`` pixels.

    scales: side length(s) in pixels; ratios: width/height; shape: ``(h, w)`` of the feature map;
    feature_stride: pixels per feature cell; anchor_stride: keep every n-th cell.
    """
    scales, ratios = np.meshgrid(np.array(scales, dtype=np.float64).ravel(),
                                 np.array(ratios, dtype=np.float64).ravel())
    scales, ratios = scales.ravel(), ratios.ravel()
    heights = scales / np.sqrt(ratios)
    widths = scales * np.sqrt(ratios)
    centers_y = np.arange(0, shape[0], anchor_stride) * feature_stride
    centers_x = np.arange(0, shape[1], anchor_stride) * feature_stride
    cx, cy = np.meshgrid(centers_x, centers_y)  # [rows, cols]
    # [rows*cols, A]: every cell gets every (height, width) pair.
    cy = np.repeat(cy.reshape(-1, 1), len(heights), axis=1)
    cx = np.repeat(cx.reshape(-1, 1), len(widths), axis=1)
    hh = np.broadcast_to(heights, cy.shape)
    ww = np.broadcast_to(widths, cx.shape)
    boxes = np.stack([cy - 0.5 * hh, cx - 0.5 * ww, cy + 0.5 * hh, cx + 0.5 * ww], axis=-1)
    return boxes.reshape(-1, 4)


def generate_pyramid_anchors(scales, ratios, feature_shapes, feature_strides,
                             anchor_stride) -> np.ndarray:
    """Anchors of all levels concatenated: ``[N, (y1, x1, y2, x2)]`` pixels, level-major.

    ``scales[i]`` is used on level ``i`` (``feature_shapes[i]``, ``feature_strides[i]``).
    """
    return np.concatenate([
        generate_anchors(scales[i], ratios, feature_shapes[i], feature_strides[i], anchor_stride)
        for i in range(len(scales))], axis=0)


def anchor_count(config, image_shape=None) -> int:
    """Number of anchors for ``image_shape`` (default ``config.IMAGE_SHAPE``)."""
    from mrcnn.config import compute_backbone_shapes
    shapes = compute_backbone_shapes(config, config.IMAGE_SHAPE if image_shape is None else image_shape)
    s = config.RPN_ANCHOR_STRIDE
    cells = sum(len(range(0, int(h), s)) * len(range(0, int(w), s)) for h, w in shapes)
    return cells * len(config.RPN_ANCHOR_RATIOS)
