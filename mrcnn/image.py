"""Image molding, image meta and detection unmolding (numpy only; slicing helpers also accept TF tensors).

Frames: the *original* image ``[h, w, C]`` is resized (and padded, "square" mode) to the *molded*
image ``IMAGE_SHAPE``; ``window = (y1, x1, y2, x2)`` is the pixel area of the molded image that holds
the real image (y2, x2 exclusive). Model outputs are normalized to the molded frame;
``unmold_detections`` maps them back to original-image pixels.

Image meta ``[IMAGE_META_SIZE]`` = ``[image_id, original_image_shape(3), image_shape(3),
window(4, pixels of the molded image), scale, active_class_ids(NUM_CLASSES)]``.
"""
from __future__ import annotations

import numpy as np

from mrcnn.box_utils import denormalize_boxes, normalize_boxes


def resize_bilinear(array: np.ndarray, out_hw) -> np.ndarray:
    """Bilinear resize of ``[h, w]`` or ``[h, w, C]`` to ``out_hw`` (half-pixel centres, edge clamp).

    Returns float64. Stand-in for the reference's scikit-image resize (order=1, no anti-aliasing).
    """
    oh, ow = int(out_hw[0]), int(out_hw[1])
    h, w = array.shape[:2]
    src = np.asarray(array, dtype=np.float64)
    ys = np.clip((np.arange(oh) + 0.5) * (h / oh) - 0.5, 0, h - 1)
    xs = np.clip((np.arange(ow) + 0.5) * (w / ow) - 0.5, 0, w - 1)
    y0 = np.floor(ys).astype(int)
    x0 = np.floor(xs).astype(int)
    y1 = np.minimum(y0 + 1, h - 1)
    x1 = np.minimum(x0 + 1, w - 1)
    fy = (ys - y0).reshape(-1, 1, *([1] * (src.ndim - 2)))
    fx = (xs - x0).reshape(1, -1, *([1] * (src.ndim - 2)))
    top = src[y0][:, x0] * (1 - fx) + src[y0][:, x1] * fx
    bottom = src[y1][:, x0] * (1 - fx) + src[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy


def resize_image(image: np.ndarray, min_dim=None, max_dim=None, min_scale=None, mode="square"):
    """Resize ``image`` ``[h, w, C]`` keeping its aspect ratio.

    mode "none": unchanged. mode "square": scale so the short side is ``min_dim`` (never down,
    at least ``min_scale``) unless the long side would exceed ``max_dim``, then zero-pad to
    ``[max_dim, max_dim, C]`` centred.
    Returns ``(image, window (y1, x1, y2, x2) pixels, scale, padding [(top, bottom), (left, right),
    (0, 0)], crop=None)``; the image keeps its dtype.
    """
    dtype = image.dtype
    h, w = image.shape[:2]
    window = (0, 0, h, w)
    scale = 1.0
    padding = [(0, 0), (0, 0), (0, 0)]
    if mode == "none":
        return image, window, scale, padding, None
    if mode != "square":
        raise NotImplementedError(
            f"IMAGE_RESIZE_MODE {mode!r} is not implemented (use 'square' or 'none')")
    if not max_dim:
        raise ValueError("square mode needs max_dim (IMAGE_MAX_DIM)")
    if min_dim:
        scale = max(1.0, min_dim / min(h, w))
    if min_scale and scale < min_scale:
        scale = float(min_scale)
    if max_dim and round(max(h, w) * scale) > max_dim:
        scale = max_dim / max(h, w)
    if scale != 1:
        resized = resize_bilinear(image, (round(h * scale), round(w * scale)))
        if np.issubdtype(dtype, np.integer):
            resized = np.clip(np.round(resized), np.iinfo(dtype).min, np.iinfo(dtype).max)
        image = resized.astype(dtype)
    h, w = image.shape[:2]
    top, left = (max_dim - h) // 2, (max_dim - w) // 2
    padding = [(top, max_dim - h - top), (left, max_dim - w - left), (0, 0)]
    image = np.pad(image, padding, mode="constant", constant_values=0)
    return image, (top, left, h + top, w + left), scale, padding, None


def mold_image(images: np.ndarray, config) -> np.ndarray:
    """Subtract ``config.MEAN_PIXEL`` (RGB); float32, same shape."""
    return images.astype(np.float32) - config.MEAN_PIXEL


def unmold_image(normalized_images: np.ndarray, config) -> np.ndarray:
    """Inverse of ``mold_image`` (uint8)."""
    return (normalized_images + config.MEAN_PIXEL).astype(np.uint8)


def compose_image_meta(image_id, original_image_shape, image_shape, window, scale,
                       active_class_ids) -> np.ndarray:
    """Pack the meta vector ``[1 + 3 + 3 + 4 + 1 + NUM_CLASSES]`` (float32)."""
    return np.array([image_id, *original_image_shape, *image_shape, *window, scale,
                     *active_class_ids], dtype=np.float32)


def parse_image_meta(meta) -> dict:
    """Split ``meta`` ``[B, IMAGE_META_SIZE]`` (numpy array or TF tensor) into named parts.

    Keys: image_id ``[B]``, original_image_shape ``[B, 3]``, image_shape ``[B, 3]``,
    window ``[B, 4]`` (molded-image pixels), scale ``[B]``, active_class_ids ``[B, NUM_CLASSES]``.
    """
    return {"image_id": meta[:, 0], "original_image_shape": meta[:, 1:4],
            "image_shape": meta[:, 4:7], "window": meta[:, 7:11], "scale": meta[:, 11],
            "active_class_ids": meta[:, 12:]}


def unmold_mask(mask: np.ndarray, bbox, image_shape, threshold: float = 0.5) -> np.ndarray:
    """Paste a soft mask ``[mh, mw]`` into box ``bbox`` (int pixels, y2/x2 exclusive).

    Returns a bool mask ``[image_h, image_w]``: the mask is resized to the box, thresholded at
    ``threshold`` and the part inside the image is written.
    """
    y1, x1, y2, x2 = (int(v) for v in bbox)
    full = np.zeros(tuple(image_shape[:2]), dtype=bool)
    if y2 <= y1 or x2 <= x1:
        return full
    pasted = resize_bilinear(mask, (y2 - y1, x2 - x1)) >= threshold
    ty1, tx1 = max(y1, 0), max(x1, 0)
    ty2, tx2 = min(y2, full.shape[0]), min(x2, full.shape[1])
    if ty2 > ty1 and tx2 > tx1:
        full[ty1:ty2, tx1:tx2] = pasted[ty1 - y1:ty2 - y1, tx1 - x1:tx2 - x1]
    return full


def unmold_detections(detections, mrcnn_mask, original_image_shape, image_shape, window):
    """Map one image's model outputs back to the original image.

    detections: ``[DETECTION_MAX_INSTANCES, (y1, x1, y2, x2, class_id, score)]`` normalized to the
    molded image, zero-padded; mrcnn_mask: ``[DETECTION_MAX_INSTANCES, mh, mw, NUM_CLASSES]``;
    window: molded-image pixels. Returns ``(rois [N, (y1, x1, y2, x2)] int32 original pixels,
    class_ids [N] int32, scores [N] float32, masks [h, w, N] bool)``; empty boxes are dropped.
    """
    zero_ix = np.where(detections[:, 4] == 0)[0]
    n = zero_ix[0] if zero_ix.shape[0] > 0 else detections.shape[0]
    boxes = detections[:n, :4]
    class_ids = detections[:n, 4].astype(np.int32)
    scores = detections[:n, 5].astype(np.float32)
    masks = mrcnn_mask[np.arange(n), :, :, class_ids]
    wy1, wx1, wy2, wx2 = normalize_boxes(np.array([window]), image_shape[:2])[0]
    shift = np.array([wy1, wx1, wy1, wx1])
    scale = np.array([wy2 - wy1, wx2 - wx1, wy2 - wy1, wx2 - wx1])
    boxes = denormalize_boxes((boxes - shift) / scale, original_image_shape[:2])
    keep = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) > 0
    boxes, class_ids, scores, masks = boxes[keep], class_ids[keep], scores[keep], masks[keep]
    full = [unmold_mask(masks[i], boxes[i], original_image_shape) for i in range(len(boxes))]
    full_masks = (np.stack(full, axis=-1) if full
                  else np.zeros(tuple(original_image_shape[:2]) + (0,), dtype=bool))
    return boxes, class_ids, scores, full_masks
