"""Model inputs for parity checks: the user's, the model kind's, or seeded random ones.

* ``--samples file.py:function``: ``function()`` returns one entry per sample; an entry is the
  list of the model's inputs in input order, or, for a single-input model, the array itself.
* the model kind's samples (`opaudit.model_kinds`; mrcnn: molded synthetic images);
* otherwise seeded random arrays from the pinned signature (floats uniform in [0, 1), ints in
  [0, 10), bools fair coins).

Every sample is checked against the pinned signature before anything is converted
(`validate`): a mismatch is one UsageError line naming the sample, the input and what differs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from opaudit.errors import UsageError

SEED = 1234
N_SAMPLES = 3


def from_function(ref: str, n_inputs: int) -> list[list[np.ndarray]]:
    """Call ``file.py:function`` -> ``[sample][input] -> np.ndarray``.

    A single-input model's samples may be bare arrays instead of one-element lists.
    """
    from opaudit.modelspec import import_file

    path, _, fn = ref.rpartition(":")
    if not path or not fn:
        raise UsageError(f"--samples expects file.py:function, got {ref!r}")
    module = import_file(path, "opaudit_user_samples")
    if not hasattr(module, fn):
        raise UsageError(f"--samples: {path} has no function {fn!r}")
    data = list(getattr(module, fn)())
    if not data:
        raise UsageError(f"--samples {ref} returned no sample")
    out = []
    for s in data:
        bare = isinstance(s, np.ndarray) or (n_inputs == 1 and not _is_input_list(s))
        out.append([np.asarray(s)] if bare else [np.asarray(a) for a in s])
    return out


def _is_input_list(s: Any) -> bool:
    """A list/tuple of arrays (one per input), as opposed to nested numbers forming one array."""
    return isinstance(s, (list, tuple)) and len(s) > 0 and all(isinstance(a, np.ndarray) for a in s)


def validate(samples: list[list[np.ndarray]], signature: list[dict[str, Any]]) -> list[list[np.ndarray]]:
    """Check every sample against the pinned ``signature`` (``[{"name", "shape", "dtype"}]``).

    Returns the samples cast to the signature's dtypes where that loses nothing (float64 ->
    float32; integers that fit). Raises UsageError on the first mismatch:
    ``sample 2, input 'image': shape (1, 64, 64) dtype float32, expected (1, 64, 64, 3) float32``.
    """
    out = []
    for i, sample in enumerate(samples):
        if len(sample) != len(signature):
            raise UsageError(f"sample {i}: {len(sample)} array(s), the model takes {len(signature)} "
                             f"({', '.join(s['name'] for s in signature)})")
        out.append([_conform(i, a, s) for a, s in zip(sample, signature)])
    return out


def _conform(i: int, a: np.ndarray, s: dict[str, Any]) -> np.ndarray:
    want = np.dtype(s["dtype"])
    ok_shape = tuple(a.shape) == tuple(s["shape"])
    castable = a.dtype == want or (a.dtype.kind == want.kind == "f") or (
        a.dtype.kind in "iu" and want.kind in "iu" and a.size and
        np.iinfo(want).min <= a.min() and a.max() <= np.iinfo(want).max)
    if not ok_shape or not castable:
        raise UsageError(f"sample {i}, input {s['name']!r}: shape {tuple(a.shape)} dtype {a.dtype}, "
                         f"expected {tuple(s['shape'])} {want}")
    return a.astype(want, copy=False)


def synthetic_images(n: int, height: int, width: int, seed: int = SEED) -> list[np.ndarray]:
    """``n`` uint8 images ``[height, width, 3]``: dark noise plus three bright filled rectangles."""
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


def random_samples(sig: list[dict[str, Any]], n: int = N_SAMPLES, seed: int = SEED) -> list[list[np.ndarray]]:
    """``n`` seeded random input lists for the pinned signature."""
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


def save(path, samples: list[list[np.ndarray]]) -> None:
    """Write samples to ``path`` (.npz, keys ``s<sample>_<input>``)."""
    np.savez(path, **{f"s{i}_{j}": a for i, s in enumerate(samples) for j, a in enumerate(s)})


def load(path) -> list[list[np.ndarray]]:
    """Read what `save` wrote."""
    z = np.load(path)
    counts: dict[int, int] = {}
    for key in z.files:
        i, j = (int(x) for x in key[1:].split("_"))
        counts[i] = max(counts.get(i, 0), j + 1)
    return [[z[f"s{i}_{j}"] for j in range(counts[i])] for i in range(len(counts))]
