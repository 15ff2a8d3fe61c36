"""Per-tensor error metrics for `opaudit compare` (pure numpy; no TensorFlow import).

For a reference ``k`` (Keras) and a candidate ``t`` (TFLite) of the same shape:

* ``max_abs = max|k - t|``;
* ``max_rel = max_abs / max(max|k|, TINY)``: one scale per tensor, as `opaudit.fix.parity`
  (so elements near zero do not blow the ratio up);
* ``cosine``: cosine similarity of the flattened tensors (1.0 when both are all zero);
* ``snr_db = 10 log10(sum k^2 / sum (k - t)^2)`` (``inf`` when identical);
* ``rows``: for row-structured tensors ``[B, N, ...]`` (B = 1, rank >= 3, per-ROI heads),
  the indices ``n`` whose row differs by more than ``bar * scale``; empty otherwise.

A tensor is *equal* when it is finite where the reference is and ``max_rel <= bar`` (default
1e-4, the parity bar of `opaudit fix`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

TINY = 1e-6
BAR = 1e-4
MAX_ROWS = 64  # row indices kept per tensor


@dataclass
class Metrics:
    """Error of one tensor against its reference. ``rows``: differing row indices (see module doc)."""

    max_abs: float = 0.0
    max_rel: float = 0.0
    cosine: float = 1.0
    snr_db: float = math.inf
    finite: bool = True
    rows: list[int] = field(default_factory=list)
    row_count: int | None = None  # N of a [B, N, ...] tensor, else None

    def equal(self, bar: float = BAR) -> bool:
        return self.finite and self.max_rel <= bar

    def to_dict(self) -> dict:
        return {"max_abs": self.max_abs, "max_rel": self.max_rel, "cosine": self.cosine,
                "snr_db": None if math.isinf(self.snr_db) else self.snr_db, "finite": self.finite,
                "rows": list(self.rows), "row_count": self.row_count}

    @classmethod
    def from_dict(cls, d: dict | None) -> Metrics | None:
        if d is None:
            return None
        snr = d.get("snr_db")
        return cls(max_abs=d["max_abs"], max_rel=d["max_rel"], cosine=d.get("cosine", 1.0),
                   snr_db=math.inf if snr is None else snr, finite=d.get("finite", True),
                   rows=list(d.get("rows") or []), row_count=d.get("row_count"))


def row_structured(shape: tuple[int, ...]) -> bool:
    """``[1, N, ...]`` with rank >= 3 and N > 1: per-row (per-ROI) tensors."""
    return len(shape) >= 3 and shape[0] == 1 and shape[1] > 1


def measure(k, t, bar: float = BAR) -> Metrics:
    """Metrics of ``t`` against ``k`` (same shape; raises ValueError otherwise)."""
    k = np.asarray(k, np.float64)
    t = np.asarray(t, np.float64)
    if k.shape != t.shape:
        raise ValueError(f"shapes differ: {k.shape} vs {t.shape}")
    finite = bool((np.isfinite(t) | ~np.isfinite(k)).all())
    kk, tt = np.nan_to_num(k), np.nan_to_num(t)
    diff = np.abs(kk - tt)
    max_abs = float(diff.max()) if diff.size else 0.0
    scale = max(float(np.abs(kk).max()) if kk.size else 0.0, TINY)
    signal, noise = float((kk * kk).sum()), float((diff * diff).sum())
    rows, count = [], None
    if row_structured(k.shape):
        count = int(k.shape[1])
        per_row = diff.reshape(k.shape[0], k.shape[1], -1).max(axis=(0, 2))
        rows = [int(i) for i in np.flatnonzero(per_row > bar * scale)[:MAX_ROWS]]
    return Metrics(max_abs=max_abs, max_rel=max_abs / scale, cosine=cosine(kk, tt),
                   snr_db=snr_db(signal, noise), finite=finite, rows=rows, row_count=count)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of the flattened arrays; 1.0 when both are zero, 0.0 when one is."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 and nb == 0.0:
        return 1.0
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.dot(a.ravel(), b.ravel()) / (na * nb))


def snr_db(signal: float, noise: float) -> float:
    """``10 log10(signal / noise)`` of summed squares; inf without noise, -inf without signal."""
    if noise == 0.0:
        return math.inf
    if signal == 0.0:
        return -math.inf
    return 10.0 * math.log10(signal / noise)


def worst(ms: list[Metrics]) -> Metrics | None:
    """Elementwise worst of several metrics (max errors, min cosine/SNR, union of rows)."""
    ms = [m for m in ms if m is not None]
    if not ms:
        return None
    rows = sorted({r for m in ms for r in m.rows})[:MAX_ROWS]
    counts = [m.row_count for m in ms if m.row_count is not None]
    return Metrics(max_abs=max(m.max_abs for m in ms), max_rel=max(m.max_rel for m in ms),
                   cosine=min(m.cosine for m in ms), snr_db=min(m.snr_db for m in ms),
                   finite=all(m.finite for m in ms), rows=rows, row_count=max(counts) if counts else None)
