"""Selective precision: the fewest layers to keep in float so a quantized model holds its bar.

Pure decisions, no I/O: `fix` quantizes and evaluates, this module says what to try next.

Candidates are the layers whose weights the quantized model stores in lower precision, ranked by
the noise each adds by itself (`opaudit.compare.quant_noise`: ``added_noise``, then the worst
output SNR). Keeping the top ``k`` in float is tried for ``k = 1, 2, 4, ...`` until the bar holds
(or every candidate is float: nothing left to try); then ``k`` is bisected between the last
failing and the first passing count, assuming that keeping more of the ranking never hurts. The
answer is the smallest passing prefix found; every step is recorded by the caller.
"""

from __future__ import annotations

from typing import Any


def rank_candidates(layer_noise: list[dict[str, Any]]) -> list[str]:
    """Quantized layers, the ones losing the most precision first."""
    quantized = [x for x in layer_noise if x.get("quantized")]
    ordered = sorted(quantized, key=lambda x: (-x["added_noise"], x["snr_out_db"], x["first_op"]))
    return [x["layer"] for x in ordered]


def next_count(n_candidates: int, tried: dict[int, bool]) -> int | None:
    """The next number of top-ranked layers to keep in float, given ``tried`` ({k: passed}),
    or None when the search is over (see the module docstring). ``tried[0]`` is the fully
    quantized model and must be a failure for a search to start."""
    if tried.get(0, True) or n_candidates == 0:
        return None
    passing = sorted(k for k, ok in tried.items() if ok)
    if not passing:
        k = max(tried)
        if k >= n_candidates:
            return None  # every candidate float and still failing
        return min(n_candidates, max(1, 2 * k))
    hi = passing[0]
    lo = max((k for k, ok in tried.items() if not ok and k < hi), default=0)
    if hi - lo <= 1:
        return None
    return (lo + hi) // 2


def best_count(tried: dict[int, bool]) -> int | None:
    """Smallest passing count tried (None: none passed)."""
    passing = [k for k, ok in tried.items() if ok]
    return min(passing) if passing else None
