"""Known mechanisms of ill-conditioning, recognised from a layer's inputs and ops (pure numpy).

* crop_and_resize at the image border: a box ending at ``x2 = 1.0`` (or ``y2``) samples its last
  column at ``x1*(W-1) + (n-1)*((x2-x1)*(W-1)/(n-1))``, which lands on ``W-1`` or one ulp beyond
  depending on the low bits of ``x1``; beyond is outside the image and gives the extrapolation
  value (0). A last-bit difference in the box moves a whole crop column.
* NMS / top-k near-ties: two candidates whose scores differ by float noise swap order or
  selection.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SELECTING_OPS = {"NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5", "TOPK_V2", "ARG_MAX", "ARG_MIN"}


def border_rows(boxes: np.ndarray, rows: Sequence[int]) -> list[int]:
    """Rows of ``boxes`` ``[1, N, (y1, x1, y2, x2)]`` / ``[N, 4]`` (normalized) among ``rows`` whose
    box ends exactly on the image border (``y2`` or ``x2`` equal to 1.0)."""
    b = np.asarray(boxes).reshape(-1, 4)
    return [r for r in rows if 0 <= r < len(b) and (b[r, 2] == 1.0 or b[r, 3] == 1.0)]


def box_inputs(inputs: Sequence[np.ndarray], n_rows: int | None) -> list[np.ndarray]:
    """Float inputs shaped like per-row boxes (``[1, N, 4]`` or ``[N, 4]``, N = ``n_rows``)."""
    out = []
    for a in inputs:
        a = np.asarray(a)
        boxy = a.dtype.kind == "f" and a.shape[-1:] == (4,) and a.ndim in (2, 3)
        if boxy and (n_rows is None or a.reshape(-1, 4).shape[0] == n_rows):
            out.append(a)
    return out


def recognise(ops: set[str], inputs: Sequence[np.ndarray], rows: Sequence[int],
              n_rows: int | None) -> str | None:
    """A sentence naming the mechanism, or None. ``ops``: the layer's TFLite ops; ``inputs``: its
    Keras input values on the sample where ``rows`` (differing output rows) were found."""
    if rows:
        for boxes in box_inputs(inputs, n_rows):
            at_border = border_rows(boxes, rows)
            if len(at_border) * 2 >= len(rows):
                shown = ", ".join(str(r) for r in at_border[:12])
                return (f"crop_and_resize at the image border: rows {shown} have boxes ending at x2 = 1.0 or "
                        "y2 = 1.0; the last sample lands on W-1 or one ulp beyond it depending on the low bits "
                        "of x1 (beyond = outside the image = extrapolation value 0), so a last-bit difference "
                        "in the box changes a whole crop column")
    if ops & SELECTING_OPS:
        which = ", ".join(sorted(ops & SELECTING_OPS))
        return (f"selection near-ties ({which}): candidates whose scores differ by float noise swap "
                "order or selection")
    return None
