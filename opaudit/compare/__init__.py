"""`opaudit compare`: layer-by-layer parity of a Keras model and its `.tflite`.

Tells a wrong conversion (``divergent``: a layer differs on identical inputs) from an
ill-conditioned original model (``ill-conditioned``: every layer is exact on identical inputs,
and the end-to-end difference is float noise that the original model itself amplifies).

* `api.compare_model(model, tflite, ...) -> CompareReport` -- the Python API (imports TF);
* `engine.compare_loaded` -- the same on a built Keras model (what `fix`'s worker calls);
* `keras_graph` (run any part of a functional model), `tflite_side` (every tensor of the
  interpreter), `boundaries` (which tensor is which layer output), `metrics`, `verdict`,
  `mechanisms` (pure), `report` (the dataclasses every renderer reads).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opaudit.compare.report import CompareReport


def compare_model(*args, **kwargs) -> CompareReport:
    """See `opaudit.compare.api.compare_model`."""
    from opaudit.compare.api import compare_model as _compare_model

    return _compare_model(*args, **kwargs)


__all__ = ["compare_model"]
