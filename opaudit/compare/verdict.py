"""From per-layer metrics to a verdict (pure; no TensorFlow import).

* A layer compared on identical inputs (``isolated``) within the bar is exact as converted.
* A layer that is not is ``sensitive`` when random input noise of the observed size moves the
  *Keras* layer by at least ``EXPLAINED`` (1/4) of that difference: the original is
  ill-conditioned there (crop_and_resize at the image border, NMS/top-k near-ties); else
  ``divergent``: the converted layer computes something else.
* Verdict: ``divergent`` when any layer is (``first_divergent``: the earliest in execution
  order; no earlier layer is blamed); else ``equal`` when every model output passes parity as
  `fix` judges it (`OutputComparison.ok`: dense within the bar, proposals/detections as sets);
  else ``ill-conditioned``, explained at the layers where the difference starts: ``sensitive``
  layers, and layers whose propagated error exceeds the bar while their inputs' does not.
  There ``keras_shift`` (Keras fed the TFLite's inputs vs its own) shows that the original
  model moves as much under the input difference the conversion left.
"""

from __future__ import annotations

from opaudit.compare.metrics import BAR, Metrics
from opaudit.compare.report import (
    Explanation,
    LayerComparison,
    OutputComparison,
    Status,
)

EXPLAINED = 0.25


def layer_status(prop: Metrics | None, iso: Metrics | None, sens: Metrics | None,
                 bar: float = BAR) -> Status:
    """Status of one compared layer (see the module docstring); no metrics -> ``no-tensor``."""
    if prop is None and iso is None:
        return "no-tensor"
    if iso is not None and not iso.equal(bar):
        if sens is not None and sens.finite and iso.finite and sens.max_rel >= EXPLAINED * iso.max_rel:
            return "sensitive"
        return "divergent"
    return "equal" if prop is None or prop.equal(bar) else "differs"


def starts(layers: list[LayerComparison], bar: float = BAR) -> list[LayerComparison]:
    """Layers where an end-to-end difference starts (see the module docstring), in order."""
    out = [c for c in layers if c.status == "sensitive" or (
        c.status == "differs" and (c.input_rel is None or c.input_rel <= bar))]
    if not out:  # started inside a region without tensors: the largest amplification
        differ = [c for c in layers if c.status == "differs" and c.propagated is not None]
        if differ:
            out = [max(differ, key=lambda c: c.propagated.max_rel / max(c.input_rel or 0.0, 1e-12))]
    return sorted(out, key=lambda c: c.order)


def first_divergent(c: LayerComparison) -> dict:
    """The ``first_divergent`` JSON object for layer ``c``."""
    return {"layer": c.layer, "class_name": c.class_name, "tflite_nodes": c.tflite_nodes,
            "tensors": c.tensors, "region": c.region, "rules": c.rules,
            "isolated": c.isolated.to_dict() if c.isolated else None,
            "propagated": c.propagated.to_dict() if c.propagated else None,
            "rows": {str(s): r for s, r in sorted(c.rows.items())}}


def explain(c: LayerComparison) -> Explanation:
    """The ill-conditioning account of start layer ``c``."""
    shift = c.keras_shift.max_rel if c.keras_shift else None
    inp = c.input_rel or 0.0
    if c.status == "sensitive":
        why = (f"on identical inputs the converted layer differs by {c.isolated.max_rel:.3g} (relative), "
               f"and random input noise of the observed size ({max(inp, 1e-6):.2g}) moves the Keras layer "
               f"itself by {c.sensitivity.max_rel:.3g}: the original is ill-conditioned here")
    else:
        why = (f"the converted layer is exact on identical inputs ({c.isolated.max_rel:.2g} relative); its inputs "
               f"differ by {inp:.2g}, and feeding Keras the TFLite's inputs moves the Keras output by "
               f"{(shift or 0.0):.3g}, as much as the observed {c.propagated.max_rel:.3g}: the original "
               "model amplifies float noise here")
    return Explanation(layer=c.layer, rows=c.rows, input_rel=c.input_rel,
                       propagated_rel=c.propagated.max_rel if c.propagated else 0.0,
                       keras_shift_rel=shift, why=why, mechanism=c.mechanism)


def decide(layers: list[LayerComparison], outputs: list[OutputComparison], bar: float = BAR):
    """-> (verdict, first_divergent dict | None, explanations, one-line summary)."""
    bad = [c for c in layers if c.status == "divergent"]
    if bad:
        c = min(bad, key=lambda c: c.order)
        rule = f" (rule {', '.join(c.rules)})" if c.rules else ""
        return "divergent", first_divergent(c), [], (
            f"divergent: layer {c.layer}{rule} differs on identical inputs by {c.isolated.max_rel:.3g} "
            f"(relative); TFLite nodes {', '.join(c.tflite_nodes[:6]) or 'unknown'}")
    worst = max((o.metrics.max_rel for o in outputs), default=0.0)
    if all(o.ok(bar) for o in outputs):
        return "equal", None, [], f"equal: every output passes parity (dense bar {bar:g}; worst dense difference {worst:.3g})"
    ex = [explain(c) for c in starts(layers, bar)]
    where = ", ".join(e.layer for e in ex) or "unknown"
    return "ill-conditioned", None, ex, (
        f"ill-conditioned: every layer is exact on identical inputs; the end-to-end difference "
        f"({worst:.3g} relative) starts at {where}, where the original model amplifies float noise")
