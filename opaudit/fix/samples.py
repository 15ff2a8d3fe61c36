"""Inputs for parity checks (worker side for mrcnn; numpy only otherwise).

* ``samples="file.py:function"``: ``function()`` returns ``list[list[np.ndarray]]`` (one input list
  per sample, in the model's input order).
* mrcnn: `mold_inputs` (mold + anchors) on seeded synthetic RGB images (noise plus filled rectangles), so the
  image meta and the anchors (``[1, A, (y1, x1, y2, x2)]`` normalized) are valid.
* otherwise: seeded random arrays from the signature (floats uniform in [0, 1), ints in [0, 10)).
"""

from __future__ import annotations

from typing import Any

import numpy as np

SEED = 1234
N_SAMPLES = 3


def from_function(ref: str) -> list[list[np.ndarray]]:
    from opaudit.fix.sources import import_file

    path, fn = ref.rsplit(":", 1)
    data = getattr(import_file(path, "opaudit_user_samples"), fn)()
    return [[np.asarray(a) for a in s] for s in data]


def synthetic_images(n: int, height: int, width: int, seed: int = SEED) -> list[np.ndarray]:
    """``n`` uint8 images ``[height, width, 3]``: noise plus three filled rectangles each."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n):
        img = rng.integers(0, 80, (height, width, 3), dtype=np.uint8)
        for _ in range(3):
            y, x = rng.integers(0, height // 2), rng.integers(0, width // 2)
            h, w = rng.integers(height // 8, height // 2), rng.integers(width // 8, width // 2)
            img[y:y + h, x:x + w] = rng.integers(100, 255, 3, dtype=np.uint8)
        images.append(img)
    return images


def mrcnn_samples(net, config, n: int = N_SAMPLES) -> list[list[np.ndarray]]:
    """One ``[image, meta, anchors]`` list per synthetic image via ``net.mold_inputs([image])``
    (molding + normalized anchors for the molded shape)."""
    shape = getattr(config, "IMAGE_SHAPE", None)
    h, w = (int(shape[0]), int(shape[1])) if shape is not None else (256, 256)
    out = []
    for img in synthetic_images(n, h, w):
        molded = net.mold_inputs([img])
        out.append([np.asarray(a, np.float32) for a in molded])
    return out


def random_samples(sig: list[dict[str, Any]], n: int = N_SAMPLES, seed: int = SEED) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        arrays = []
        for s in sig:
            if "int" in s["dtype"]:
                arrays.append(rng.integers(0, 10, s["shape"]).astype(s["dtype"]))
            elif s["dtype"] == "bool":
                arrays.append(rng.random(s["shape"]) > 0.5)
            else:
                arrays.append(rng.random(s["shape"], dtype=np.float32).astype(s["dtype"]))
        out.append(arrays)
    return out


def build(spec: dict[str, Any], samples_ref: str | None, extra: dict, sig_guess=None):
    """Samples for ``spec`` -> ``(samples, note)``; ``sig_guess`` is needed for random samples."""
    if samples_ref:
        return from_function(samples_ref), f"samples from {samples_ref}"
    if spec["kind"] == "mrcnn":
        return mrcnn_samples(extra["mrcnn"], extra["config"]), \
            f"{N_SAMPLES} synthetic images (seed {SEED}) through MaskRCNN.mold_inputs"
    if sig_guess is None:
        return None, ""
    return random_samples(sig_guess), f"{N_SAMPLES} seeded random inputs (seed {SEED})"
