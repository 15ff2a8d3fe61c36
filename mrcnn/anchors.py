"""Anchor generation (numpy only).

Anchors are pixel boxes ``[N, (y1, x1, y2, x2)]`` in the molded image frame, built the
torchvision way: zero-centred cell anchors (one per ratio ``width / height``: ``height = scale /
sqrt(ratio)``, ``width = scale * sqrt(ratio)``) added to every cell centre ``(row * s, col * s)``
of the level's feature map (stride ``s``, every ``anchor_stride``-th cell, centres from 0 as in
the reference). ``centre + (-h/2)`` equals ``centre - h/2`` in floating point, so the values are
the reference's bit for bit (tests/mrcnn/test_reference.py).

Order: level, then row, then column, then ratio (the RPN flattening order).
"""
from __future__ import annotations

import numpy as np


def cell_anchors(scales, ratios) -> np.ndarray:
    """Zero-centred anchors of one cell, ``[len(ratios) * len(scales), (y1, x1, y2, x2)]``
    float64: ratio-major, for each ``(ratio, scale)`` a box ``scale / sqrt(ratio)`` high and
    ``scale * sqrt(ratio)`` wide."""
    ratio, scale = (a.ravel() for a in np.meshgrid(np.asarray(ratios, dtype=np.float64).ravel(),
                                                   np.asarray(scales, dtype=np.float64).ravel(),
                                                   indexing="ij"))
    half_h = 0.5 * (scale / np.sqrt(ratio))
    half_w = 0.5 * (scale * np.sqrt(ratio))
    return np.stack([-half_h, -half_w, half_h, half_w], axis=1)


def grid_shifts(shape, feature_stride, anchor_stride) -> np.ndarray:
    """Cell centres ``[rows * cols, (y, x, y, x)]`` int pixels, row-major, for a feature map
    ``shape`` ``(h, w)``: every ``anchor_stride``-th cell, centre ``index * feature_stride``."""
    ys = np.arange(0, shape[0], anchor_stride) * feature_stride
    xs = np.arange(0, shape[1], anchor_stride) * feature_stride
    y, x = (a.ravel() for a in np.meshgrid(ys, xs, indexing="ij"))
    return np.stack([y, x, y, x], axis=1)


def generate_anchors(scales, ratios, shape, feature_stride, anchor_stride) -> np.ndarray:
    """Anchors of one level, ``[rows * cols * A, (y1, x1, y2, x2)]`` float64 pixels: every cell
    centre (``grid_shifts``) plus every cell anchor (``cell_anchors``), cell-major."""
    shifts = grid_shifts(shape, feature_stride, anchor_stride)
    return (shifts[:, None, :] + cell_anchors(scales, ratios)[None, :, :]).reshape(-1, 4)


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
