"""What `fix --quantize` reports: ``fix.json`` ``quantization`` (docs/fix-json.md).

`QuantReport` holds the float baseline (the fixed float `.tflite` on the same samples) and one
`QuantVariant` per mode; each variant lists its `QuantStep` s (one quantize + evaluate each).
Metrics dicts are `opaudit.quantize.metrics.evaluate` results against the float Keras model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opaudit.findings import Finding


@dataclass
class QuantStep:
    """One quantization and its evaluation: ``keep_float`` layers stayed float32."""

    keep_float: list[str]
    tool: str
    status: str  # ok | error
    seconds: float | None = None
    size: int | None = None
    passed: bool | None = None
    why: list[str] = field(default_factory=list)
    metrics: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class QuantVariant:
    """One mode. ``status``: ok (bar holds) | bar_failed | failed (no runnable model).

    ``tool`` made the delivered file ``path`` (relative to the output folder); ``fallback`` says
    why the converter was used instead of the LiteRT Quantizer. ``audit``: builtin-only, invoke
    and the findings `opaudit inspect` has on the file. ``layer_noise``: per-layer noise of the
    fully quantized model against the float one (`opaudit.compare.quant_noise`).
    """

    mode: str
    status: str = "failed"
    reason: str = ""
    tool: str | None = None
    fallback: str | None = None
    path: str | None = None
    size: int | None = None
    size_ratio: float | None = None
    bar: dict[str, float] = field(default_factory=dict)
    passed: bool = False
    why: list[str] = field(default_factory=list)
    metrics: dict[str, Any] | None = None
    keep_float: list[str] = field(default_factory=list)
    steps: list[QuantStep] = field(default_factory=list)
    layer_noise: dict[str, Any] | None = None
    audit: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    calibration: dict[str, Any] | None = None
    runtime: dict[str, Any] | None = None
    seconds: float | None = None
    notes: list[str] = field(default_factory=list)  # what the tool did beyond the recipe, and why


@dataclass
class QuantReport:
    """``subject`` names the model the task metrics come from: ``model`` or, when the samples give
    the model no detection, the fix's parity ``twin`` (quantized the same way)."""

    modes: list[str]
    samples: int
    subject: str = "model"
    float_size: int | None = None
    float_metrics: dict[str, Any] | None = None
    float_runtime: dict[str, Any] | None = None
    variants: list[QuantVariant] = field(default_factory=list)
