"""Selective precision: the fewest layers to keep in float so a quantized model holds its bar.

Pure decisions, no I/O: `fix` quantizes and evaluates, this module says what to try next.

Candidates are the layers the quantized model stores or computes in lower precision, ranked by
the noise each adds by itself (`opaudit.compare.quant_noise`: ``added_noise``, then the worst
output SNR); layers after a data-dependent selection (``after_selection``) come after all others,
since their noise is mostly rows picked differently upstream. Keeping the top ``k`` in float is tried for ``k = 1, 2, 4, ...`` until the bar holds
(or every candidate is float: nothing left to try); then ``k`` is bisected between the last
failing and the first passing count, assuming that keeping more of the ranking never hurts. The
answer is the smallest passing prefix found; every step is recorded by the caller.

Keeping layers in float costs size. Each mode has a size budget (`modes.Mode.size_budget`, a
fraction of the float model); a step over it is a failure that also caps the search (``limit``):
a mixed model as big as the float one is not what the user asked for.
"""

from __future__ import annotations

from typing import Any


def rank_candidates(layer_noise: list[dict[str, Any]]) -> list[str]:
    """Quantized layers, the ones losing the most precision first."""
    quantized = [x for x in layer_noise if x.get("quantized")]
    ordered = sorted(quantized, key=lambda x: (bool(x.get("after_selection")), -x["added_noise"],
                                               x["snr_out_db"], x["first_op"]))
    return [x["layer"] for x in ordered]


def next_count(n_candidates: int, tried: dict[int, bool], limit: int | None = None) -> int | None:
    """The next number of top-ranked layers to keep in float, given ``tried`` ({k: passed}),
    or None when the search is over (see the module docstring). ``tried[0]`` is the fully
    quantized model and must be a failure for a search to start; no count above ``limit``
    (the size budget) is proposed."""
    top = n_candidates if limit is None else min(n_candidates, limit)
    if tried.get(0, True) or top <= 0:
        return None
    passing = sorted(k for k, ok in tried.items() if ok)
    if not passing:
        k = max(tried)
        if k >= top:
            return None  # every candidate float (or the budget reached) and still failing
        return min(top, max(1, 2 * k))
    hi = passing[0]
    lo = max((k for k, ok in tried.items() if not ok and k < hi), default=0)
    if hi - lo <= 1:
        return None
    return (lo + hi) // 2


def best_count(tried: dict[int, bool]) -> int | None:
    """Smallest passing count tried (None: none passed)."""
    passing = [k for k, ok in tried.items() if ok]
    return min(passing) if passing else None
