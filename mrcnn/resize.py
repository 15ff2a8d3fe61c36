"""Fitting a user's image into the model's input frame (``config.IMAGE_RESIZE_MODE``).

Modes (the reference's):

* ``"none"``: the image as it is;
* ``"square"``: scale (up so the short side reaches ``min_dim``, at least ``min_scale``, but
  never so far that the long side passes ``max_dim``), then zero-pad, centred, to
  ``[max_dim, max_dim]``;
* ``"pad64"``: scale up as above (``max_dim`` ignored), then zero-pad, centred, each side to the
  next multiple of 64 (``min_dim`` must be a multiple of 64);
* ``"crop"``: scale up as above, then cut a random ``[min_dim, min_dim]`` window (top offset
  drawn first, then left, each with ``rng.randint(0, excess)``; ``rng`` defaults to Python's
  ``random`` module, as in the reference).

Resampling equals the reference's scikit-image call (``resize(order=1, mode="constant",
preserve_range=True, anti_aliasing=False)``), bit for bit on uint8 images (measured): sample
positions at pixel centres, ``(o + 0.5) * (n_in / n_out) - 0.5``; linear weights ``1 - f, f``
per axis; neighbours outside the image count as 0; the four products ``value * w_y * w_x`` added
in row-major corner order, in float64; the result clipped to the input's value range and cast
back to the input dtype (which truncates, for integer images).
"""
from __future__ import annotations

import random

import numpy as np

MODES = ("none", "square", "pad64", "crop")


def _axis_taps(n_in: int, n_out: int):
    """``(first index [n_out], weight of it, weight of the next)`` for one axis."""
    pos = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    first = np.floor(pos).astype(np.int64)
    frac = pos - first
    return first, 1.0 - frac, frac


def resize_bilinear(array: np.ndarray, out_hw) -> np.ndarray:
    """Bilinear resize of ``[h, w]`` or ``[h, w, C]`` to ``out_hw``, float64, unclipped (see the
    module docstring for the exact arithmetic; outside neighbours are 0)."""
    h, w = array.shape[:2]
    rows, wy0, wy1 = _axis_taps(h, int(out_hw[0]))
    cols, wx0, wx1 = _axis_taps(w, int(out_hw[1]))
    framed = np.zeros((h + 2, w + 2) + array.shape[2:])
    framed[1:-1, 1:-1] = array  # a ring of zeros: index -1 and n land on it
    trailing = (1,) * (array.ndim - 2)
    wy = [v.reshape((-1, 1) + trailing) for v in (wy0, wy1)]
    wx = [v.reshape((1, -1) + trailing) for v in (wx0, wx1)]
    total = None
    for dy in (0, 1):
        for dx in (0, 1):
            corner = framed[rows + dy + 1][:, cols + dx + 1]
            term = corner * wy[dy] * wx[dx]
            total = term if total is None else total + term
    return total


def resample(image: np.ndarray, out_hw) -> np.ndarray:
    """``resize_bilinear`` clipped to ``image``'s value range, in ``image``'s dtype."""
    out = np.clip(resize_bilinear(image, out_hw), image.min(), image.max())
    return out.astype(image.dtype)


def choose_scale(h: int, w: int, min_dim=None, max_dim=None, min_scale=None,
                 mode: str = "square") -> float:
    """Scale factor for an ``h x w`` image (see the module docstring; only "square" caps it)."""
    scale = max(1.0, min_dim / min(h, w)) if min_dim else 1.0
    if min_scale and scale < min_scale:
        scale = float(min_scale)
    if mode == "square" and max_dim and round(max(h, w) * scale) > max_dim:
        scale = max_dim / max(h, w)
    return scale


def _centred(size: int, target: int) -> tuple[int, int]:
    before = (target - size) // 2
    return before, target - size - before


def resize_image(image: np.ndarray, min_dim=None, max_dim=None, min_scale=None,
                 mode: str = "square", rng=random):
    """Fit ``image`` ``[h, w, C]`` into the model frame (see the module docstring).

    Returns ``(image, window, scale, padding, crop)``: the image in its own dtype; ``window``
    ``(y1, x1, y2, x2)`` the part holding image content, pixels, y2/x2 exclusive; ``scale``;
    ``padding`` ``[(top, bottom), (left, right), (0, 0)]``; ``crop`` ``(y, x, h, w)`` or None.
    """
    if mode not in MODES:
        raise ValueError(f"IMAGE_RESIZE_MODE must be one of {MODES}, got {mode!r}")
    h, w = image.shape[:2]
    if mode == "none":
        return image, (0, 0, h, w), 1.0, [(0, 0), (0, 0), (0, 0)], None
    if mode == "square" and not max_dim:
        raise ValueError("IMAGE_RESIZE_MODE 'square' needs IMAGE_MAX_DIM")
    if mode == "pad64" and min_dim and min_dim % 64:
        raise ValueError(f"IMAGE_RESIZE_MODE 'pad64' needs IMAGE_MIN_DIM % 64 == 0, got {min_dim}")
    scale = choose_scale(h, w, min_dim, max_dim, min_scale, mode)
    if scale != 1:
        image = resample(image, (round(h * scale), round(w * scale)))
    h, w = image.shape[:2]
    if mode == "crop":
        top = rng.randint(0, h - min_dim)
        left = rng.randint(0, w - min_dim)
        image = image[top:top + min_dim, left:left + min_dim]
        return image, (0, 0, min_dim, min_dim), scale, [(0, 0), (0, 0), (0, 0)], \
            (top, left, min_dim, min_dim)
    target_h, target_w = (max_dim, max_dim) if mode == "square" else (-(-h // 64) * 64,
                                                                      -(-w // 64) * 64)
    padding = [_centred(h, target_h), _centred(w, target_w), (0, 0)]
    image = np.pad(image, padding, mode="constant", constant_values=0)
    return image, (padding[0][0], padding[1][0], padding[0][0] + h, padding[1][0] + w), \
        scale, padding, None
