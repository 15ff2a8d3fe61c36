"""What `opaudit compare` returns: plain data, rendered alike by terminal, JSON and HTML.

`CompareReport.to_dict()` is the ``--json`` output (docs/compare.md). Per Keras layer call
(`LayerComparison`), on the same samples:

* ``propagated``: the Keras layer output vs its TFLite tensor, both computed from the real
  inputs -- where the difference starts and how it grows;
* ``isolated``: the Keras layer (plus the layers fused into it: ``region``) run on the
  *TFLite's own* input tensors vs the TFLite output -- is the converted layer itself exact?
* ``keras_shift``: the Keras layer on the TFLite's inputs vs on its own inputs -- how far the
  *original* model moves under the input difference the conversion left (the sensitivity);
* ``sensitivity``: the Keras layer on the TFLite's inputs plus random noise of the observed size
  vs without it (only measured for a layer that is not isolated-equal).

``status``: ``equal`` (propagated within the bar), ``differs`` (isolated-equal, propagated
not: inherited or amplified input noise), ``sensitive`` (not isolated-equal, but input noise of
the observed size moves Keras as much: ill-conditioned, not a conversion bug), ``divergent``
(not equal on identical inputs: a conversion bug), ``no-tensor`` (fused away; ``fused_into``
names the layer whose comparison covers it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from opaudit.compare.metrics import BAR, Metrics

Verdict = Literal["equal", "ill-conditioned", "divergent"]
Status = Literal["equal", "differs", "sensitive", "divergent", "no-tensor"]


@dataclass
class LayerComparison:
    """One Keras layer call (``layer``; a second call of a shared layer is ``name#2``)."""

    layer: str
    class_name: str
    order: int
    status: Status = "no-tensor"
    tensors: list[str] = field(default_factory=list)
    tflite_nodes: list[str] = field(default_factory=list)  # "index:OP" in subgraph 0
    region: list[str] = field(default_factory=list)  # layers without a tensor run with this one
    fused_into: str | None = None
    propagated: Metrics | None = None
    isolated: Metrics | None = None
    keras_shift: Metrics | None = None
    sensitivity: Metrics | None = None
    input_rel: float | None = None  # worst propagated max_rel of its inputs (0: the model inputs)
    rows: dict[int, list[int]] = field(default_factory=dict)  # sample -> differing rows (propagated)
    rules: list[str] = field(default_factory=list)  # rewrite rules applied to this layer (fix plan)
    mechanism: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items()
             if k not in ("propagated", "isolated", "keras_shift", "sensitivity", "rows")}
        for k in ("propagated", "isolated", "keras_shift", "sensitivity"):
            m = getattr(self, k)
            d[k] = m.to_dict() if m is not None else None
        d["rows"] = {str(s): r for s, r in sorted(self.rows.items())}
        return d


@dataclass
class OutputComparison:
    """One model output end to end (Keras vs TFLite on the real inputs). ``passed``: judged as
    `fix` judges parity (`opaudit.fix.parity`: proposals and detections as row sets, per-ROI heads
    on matched rows); None -> by ``metrics`` against the bar."""

    name: str
    tensor: str
    metrics: Metrics
    rows: dict[int, list[int]] = field(default_factory=dict)
    passed: bool | None = None

    def ok(self, bar: float) -> bool:
        return self.metrics.equal(bar) if self.passed is None else self.passed

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "tensor": self.tensor, "passed": self.passed, **self.metrics.to_dict(),
                "rows": {str(s): r for s, r in sorted(self.rows.items())}}


@dataclass
class Explanation:
    """Why an end-to-end difference is the original model's conditioning, at one layer."""

    layer: str
    rows: dict[int, list[int]]
    input_rel: float | None
    propagated_rel: float
    keras_shift_rel: float | None
    why: str
    mechanism: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows": {str(s): r for s, r in sorted(self.rows.items())}}


@dataclass
class CompareReport:
    """Everything `compare` found. ``first_divergent`` is set for ``divergent`` only;
    ``explanations`` for ``ill-conditioned``; ``end_to_end`` is the worst output max_rel."""

    verdict: Verdict
    model: str
    tflite: str
    samples: int
    bar: float = BAR
    layers: list[LayerComparison] = field(default_factory=list)
    outputs: list[OutputComparison] = field(default_factory=list)
    first_divergent: dict[str, Any] | None = None
    explanations: list[Explanation] = field(default_factory=list)
    summary: str = ""
    end_to_end: float | None = None
    seconds: float | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase, summed over samples
    notes: list[str] = field(default_factory=list)

    @property
    def no_tensor(self) -> list[str]:
        return [c.layer for c in self.layers if c.status == "no-tensor"]

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "summary": self.summary, "model": self.model,
                "tflite": self.tflite, "samples": self.samples, "bar": self.bar,
                "end_to_end": self.end_to_end, "first_divergent": self.first_divergent,
                "explanations": [e.to_dict() for e in self.explanations],
                "outputs": [o.to_dict() for o in self.outputs],
                "layers": [c.to_dict() for c in self.layers], "no_tensor": self.no_tensor,
                "seconds": self.seconds, "timings": dict(self.timings), "notes": list(self.notes)}
