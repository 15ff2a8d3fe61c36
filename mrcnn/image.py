"""Model-frame bookkeeping (numpy; ``parse_image_meta`` also slices TF tensors).

Frames: the user's *original* image ``[h, w, C]`` is fitted into the *molded* frame
(``mrcnn.resize.resize_image``); ``window = (y1, x1, y2, x2)`` is where the image content sits
in the molded frame (pixels, y2/x2 exclusive). The model reads and writes boxes normalized to
the molded frame; ``unmold_detections`` brings them back to original-image pixels.

Image meta, one float32 row per image (``META_FIELDS`` order and widths):
``image_id (1), original_image_shape (3), image_shape (3), window (4, molded pixels),
scale (1), active_class_ids (NUM_CLASSES)``.
"""
from __future__ import annotations

import numpy as np

from mrcnn.box_utils import denormalize_boxes, normalize_boxes
from mrcnn.resize import resample

#: (name, width); the last field takes the rest of the row (NUM_CLASSES wide).
META_FIELDS = (("image_id", 1), ("original_image_shape", 3), ("image_shape", 3),
               ("window", 4), ("scale", 1), ("active_class_ids", None))


def compose_image_meta(image_id, original_image_shape, image_shape, window, scale,
                       active_class_ids) -> np.ndarray:
    """The meta row ``[12 + NUM_CLASSES]`` (float32) for one image (fields: module docstring)."""
    parts = [[image_id], original_image_shape, image_shape, window, [scale], active_class_ids]
    return np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in parts]) \
        .astype(np.float32)


def parse_image_meta(meta) -> dict:
    """Named views of ``meta`` ``[B, IMAGE_META_SIZE]`` (numpy array or TF tensor).

    ``image_id`` and ``scale`` are ``[B]``, the others ``[B, width]`` (see ``META_FIELDS``).
    """
    fields, start = {}, 0
    for name, width in META_FIELDS:
        stop = None if width is None else start + width
        fields[name] = meta[:, start] if width == 1 else meta[:, start:stop]
        start = stop
    return fields


def mold_image(images: np.ndarray, config) -> np.ndarray:
    """Model input values: float32 ``images - config.MEAN_PIXEL`` (RGB), same shape."""
    return images.astype(np.float32) - config.MEAN_PIXEL


def unmold_image(normalized_images: np.ndarray, config) -> np.ndarray:
    """Back from ``mold_image``: ``+ MEAN_PIXEL``, cast to uint8."""
    return (normalized_images + config.MEAN_PIXEL).astype(np.uint8)


def unmold_mask(mask: np.ndarray, bbox, image_shape, threshold: float = 0.5) -> np.ndarray:
    """Paste a soft mask ``[mh, mw]`` (float) into ``bbox`` ``(y1, x1, y2, x2)`` int pixels,
    y2/x2 exclusive: resampled to the box size (``mrcnn.resize.resample``), ``>= threshold``.
    Returns a bool ``[image_h, image_w]``; the part of the box outside the image is dropped."""
    y1, x1, y2, x2 = (int(v) for v in bbox)
    canvas = np.zeros(tuple(image_shape[:2]), dtype=bool)
    if y2 <= y1 or x2 <= x1:
        return canvas
    inside = resample(mask, (y2 - y1, x2 - x1)) >= threshold
    top, left = max(y1, 0), max(x1, 0)
    bottom, right = min(y2, canvas.shape[0]), min(x2, canvas.shape[1])
    if bottom > top and right > left:
        canvas[top:bottom, left:right] = inside[top - y1:bottom - y1, left - x1:right - x1]
    return canvas


def window_to_original(boxes: np.ndarray, window, image_shape, original_shape) -> np.ndarray:
    """Boxes ``[N, 4]`` normalized to the molded frame -> int32 original-image pixels:
    re-normalized to the window (float32), then scaled to ``original_shape``."""
    wy1, wx1, wy2, wx2 = normalize_boxes(np.array([window]), image_shape)[0]
    origin = np.array([wy1, wx1, wy1, wx1])
    extent = np.array([wy2 - wy1, wx2 - wx1, wy2 - wy1, wx2 - wx1])
    return denormalize_boxes((boxes - origin) / extent, original_shape)


def unmold_detections(detections, mrcnn_mask, original_image_shape, image_shape, window):
    """One image's model outputs in original-image terms.

    detections: ``[DETECTION_MAX_INSTANCES, (y1, x1, y2, x2, class_id, score)]`` normalized to
    the molded frame, zero rows after the last detection; mrcnn_mask: ``[D, mh, mw,
    NUM_CLASSES]``; window: molded-frame pixels. Returns ``(rois [N, (y1, x1, y2, x2)] int32
    original pixels, class_ids [N] int32, scores [N] float32, masks [h, w, N] bool)``; boxes
    that come out empty are dropped.
    """
    padding_rows = np.flatnonzero(detections[:, 4] == 0)
    count = int(padding_rows[0]) if padding_rows.size else len(detections)
    class_ids = detections[:count, 4].astype(np.int32)
    scores = detections[:count, 5].astype(np.float32)
    soft = mrcnn_mask[np.arange(count), :, :, class_ids]
    rois = window_to_original(detections[:count, :4], window, image_shape, original_image_shape)
    keep = (rois[:, 2] - rois[:, 0]) * (rois[:, 3] - rois[:, 1]) > 0
    rois, class_ids, scores, soft = rois[keep], class_ids[keep], scores[keep], soft[keep]
    masks = [unmold_mask(m, box, original_image_shape) for m, box in zip(soft, rois)]
    masks = (np.stack(masks, axis=-1) if masks
             else np.zeros(tuple(original_image_shape[:2]) + (0,), dtype=bool))
    return rois, class_ids, scores, masks
