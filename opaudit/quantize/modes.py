"""The quantization modes `opaudit fix --quantize` offers, and the task-level bar each must hold.

A mode names *what* is stored in lower precision; the tool that does it is chosen per mode
(`backends.py`): the LiteRT Quantizer (``ai-edge-quantizer``) where it has a recipe, the
TFLite converter where it has not or where the Quantizer fails on the model.

=========  ==========================================  ===========================================
mode       weights / activations                        Quantizer recipe (converter fallback)
=========  ==========================================  ===========================================
fp16       fp16 weights, float32 compute                weight-only ``float_casting`` of FC/conv
                                                        weights (``supported_types=[float16]``)
dynamic    int8 weights (per channel), activations      ``dynamic_wi8_afp32``
           quantized on the fly by the kernels          (``Optimize.DEFAULT``)
int8       int8 weights and activations, calibrated     ``static_wi8_ai8`` after ``calibrate``
           on sample inputs                             (``representative_dataset``)
=========  ==========================================  ===========================================

Bars are relative to the float TFLite model on the same samples, because the float conversion
itself is not always 100 % in agreement with Keras (border ROIs, docs/motivating-example.md):
a quantized detector must keep its detection agreement within ``agreement_drop`` points of the
float model's, its mean mask IoU within ``mask_iou_drop``; a dense output (no detections
output in the model) must keep ``cosine`` and ``snr_db`` against Keras.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from opaudit.errors import UsageError


@dataclass(frozen=True)
class TaskBar:
    """What a quantized model must keep. ``agreement_drop`` in points (0-100)."""

    agreement_drop: float
    mask_iou_drop: float
    cosine: float
    snr_db: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Mode:
    """``size_budget``: largest size, as a fraction of the float model, a selectively quantized
    variant may reach (layers kept in float cost their float size)."""

    name: str
    summary: str
    needs_calibration: bool
    bar: TaskBar
    size_budget: float


MODES: dict[str, Mode] = {m.name: m for m in (
    Mode("fp16", "fp16 weights, float32 compute", False,
         TaskBar(agreement_drop=5.0, mask_iou_drop=0.05, cosine=0.999, snr_db=30.0), size_budget=0.55),
    Mode("dynamic", "int8 weights, activations quantized on the fly", False,
         TaskBar(agreement_drop=15.0, mask_iou_drop=0.10, cosine=0.99, snr_db=20.0), size_budget=0.30),
    Mode("int8", "int8 weights and activations (calibrated)", True,
         TaskBar(agreement_drop=20.0, mask_iou_drop=0.15, cosine=0.98, snr_db=15.0), size_budget=0.35),
)}

# Fewer calibration samples than this gives activation ranges that miss real inputs' tails
# (int8 only); the run goes on and says so.
MIN_CALIBRATION_SAMPLES = 32


def parse_modes(values: list[str] | str | None) -> list[str]:
    """``["fp16,dynamic", "int8"]`` -> ``["fp16", "dynamic", "int8"]`` (order kept, no repeats);
    ``none`` alone -> ``[]``. Raises UsageError naming the unknown mode."""
    if values is None:
        return []
    items = [v.strip() for raw in ([values] if isinstance(values, str) else values) for v in raw.split(",")]
    items = [v for v in items if v]
    if items == ["none"]:
        return []
    bad = [v for v in items if v not in MODES]
    if bad:
        raise UsageError(f"--quantize: unknown mode {bad[0]!r} (choose from none, {', '.join(MODES)})")
    return list(dict.fromkeys(items))
