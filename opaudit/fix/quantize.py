"""`fix --quantize`: quantized variants of the fixed model, judged on the task, with selective
precision when a mode misses its bar (`opaudit.quantize` holds the pure parts).

Runs after the float model is fixed, inside the same session (same weights, samples, plan):

1. the float Keras outputs of the *subject* are computed once: the model itself, or the parity
   twin when the samples give the model no detection (`subject_of`);
2. the float `.tflite` is scored against them: the baseline every bar is relative to;
3. per mode: quantize with the LiteRT Quantizer (the converter when the Quantizer fails), score,
   measure the per-layer noise; when the bar fails, keep the layers losing the most precision in
   float (`precision.next_count`) and requantize until the bar holds or nothing is left to try;
4. the chosen file is written to ``out/model.<mode>.tflite`` and audited like any `.tflite`
   (builtin-only, a real invoke).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opaudit import atomic
from opaudit.fix.result import FixResult, Plan
from opaudit.fix.session import Session
from opaudit.modelspec import ModelSpec
from opaudit.quantize import precision
from opaudit.quantize.backends import op_scope
from opaudit.quantize.metrics import meets_bar
from opaudit.quantize.modes import MIN_CALIBRATION_SAMPLES, MODES
from opaudit.quantize.result import QuantReport, QuantStep, QuantVariant

QUANTIZER = "ai-edge-quantizer"
CONVERTER = "tflite-converter"


@dataclass
class Subject:
    """The model the task metrics are measured on (``float_path``: its float `.tflite`); ``main``
    is the delivered model, quantized the same way when the subject is the twin."""

    name: str
    spec: ModelSpec
    float_path: Path
    main_float: Path
    keras_outputs: Path | None = None
    baseline: dict[str, Any] | None = None
    plan: Plan = field(default_factory=dict)
    calibration: Path | None = None
    calibration_note: dict[str, Any] | None = None
    _scopes: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def scopes(self, path: Path, layers: list[str]) -> list[str]:
        """The Quantizer's op scopes of every op that `inspect` maps to one of ``layers``."""
        if str(path) not in self._scopes:
            from opaudit.inspect import inspect_model

            rep = inspect_model(str(path), probe=False)
            names = {t.index: t.name for t in rep.tensors if t.subgraph == 0}
            table: dict[str, list[str]] = {}
            for o in rep.operators:
                if o.subgraph == 0 and o.layer:
                    table.setdefault(o.layer, []).append(op_scope(names.get(t, "") for t in o.outputs))
            self._scopes[str(path)] = table
        table = self._scopes[str(path)]
        return [s for layer in layers for s in table.get(layer, [])]


def subject_of(session: Session, result: FixResult, float_path: Path) -> Subject:
    plan = result.iterations[-1].plan if result.iterations else {}
    twin = result.parity.twin if result.parity else None
    twin_path = session.work / "parity-twin.tflite"
    if twin is not None and twin.overrides and twin_path.is_file():
        return Subject("twin", session.spec.with_overrides(twin.overrides), twin_path, float_path, plan=plan)
    return Subject("model", session.spec, float_path, float_path, plan=plan)


def quantize_fixed(session: Session, result: FixResult, modes: list[str], float_path: Path,
                   calibration: str | None = None) -> QuantReport:
    """Quantized variants of the fixed ``float_path`` for ``modes`` (see the module docstring)."""
    sub = subject_of(session, result, float_path)
    report = QuantReport(modes=modes, samples=(result.parity.samples if result.parity else 0) or 0,
                         subject=sub.name, float_size=float_path.stat().st_size)
    sub.keras_outputs = session.work / f"keras-outputs-{sub.name}.npz"
    res = session.run("keras_outputs", "quantize: float Keras outputs", spec=sub.spec, out=str(sub.keras_outputs))
    if res.get("status") != "ok":
        report.variants = [QuantVariant(m, reason=f"Keras outputs: {res.get('error') or res.get('status')}") for m in modes]
        return report
    base = _evaluate(session, sub, [sub.float_path])
    sub.baseline = report.float_metrics = base.get("metrics", {}).get(str(sub.float_path))
    if any(MODES[m].needs_calibration for m in modes):
        sub.calibration, sub.calibration_note = _calibration(session, calibration)
    for mode in modes:
        t = time.monotonic()
        variant = _one_mode(session, sub, mode)
        variant.seconds = round(time.monotonic() - t, 2)
        report.variants.append(variant)
    return report


def _calibration(session: Session, source: str | None) -> tuple[Path | None, dict[str, Any]]:
    """Calibration samples (``source`` or the parity samples) -> (npz, note for fix.json)."""
    path = session.work / "calibration.npz"
    res = session.run("calibration_samples", "quantize: calibration samples", source=source, out=str(path))
    if res.get("status") != "ok":
        return None, {"error": res.get("error") or res.get("status")}
    n = int(res["samples"])
    note = {"source": res["source"], "samples": n, "recommended": MIN_CALIBRATION_SAMPLES}
    if n < MIN_CALIBRATION_SAMPLES:
        note["warning"] = (f"{n} calibration samples: activation ranges from so few inputs can miss the tails of "
                           f"real inputs; give --calibration with at least {MIN_CALIBRATION_SAMPLES}")
    return path, note


def _evaluate(session: Session, sub: Subject, models: list[Path], noise: list[Path] | None = None) -> dict[str, Any]:
    return session.run("quant_eval", "quantize: scoring", spec=sub.spec, keras_outputs=str(sub.keras_outputs),
                       models=[str(m) for m in models], noise=[str(n) for n in noise] if noise else None)


def _one_mode(session: Session, sub: Subject, mode: str) -> QuantVariant:
    v = QuantVariant(mode, bar=MODES[mode].bar.to_dict())
    if MODES[mode].needs_calibration:
        v.calibration = sub.calibration_note
    first = _attempt(session, sub, mode, [], 0, v)
    if first.status != "ok":
        v.reason = f"could not quantize: {first.error}"
        return v
    tried, limit = {0: bool(first.passed)}, None
    ranked = precision.rank_candidates((v.layer_noise or {}).get("layers", [])) if first.passed is not None else []
    float_size = sub.main_float.stat().st_size
    budget = max(MODES[mode].size_budget * float_size, first.size or 0)
    while v.tool == QUANTIZER and (k := precision.next_count(len(ranked), tried, limit)) is not None:
        step = _attempt(session, sub, mode, ranked[:k], k, v)
        tried[k] = step.status == "ok" and bool(step.passed)
        if step.size and step.size > budget:
            tried[k], limit = False, k - 1
            step.why.append(f"{step.size / float_size:.2f}x the float size: over the "
                            f"{MODES[mode].size_budget:g}x size budget of {mode}")
    best = precision.best_count(tried)
    chosen = best if best is not None else 0
    _deliver(session, sub, v, chosen, ranked[:chosen])
    if not tried[0] and v.tool != QUANTIZER:
        v.why.append(f"selective precision not available: {v.fallback}")
    elif not tried[0] and best is None and limit is not None:
        v.why.append(f"the bar needs more than {limit} layer(s) in float, which would exceed the size budget")
    elif not tried[0] and best is None:
        v.why.append(f"every {len(ranked)} quantized layer kept in float and the bar still fails: nothing left to try")
    return v


def _paths(session: Session, mode: str, k: int) -> tuple[Path, Path]:
    return session.work / f"q-{mode}-{k}.tflite", session.work / f"q-{mode}-{k}-twin.tflite"


def _attempt(session: Session, sub: Subject, mode: str, keep: list[str], k: int, v: QuantVariant) -> QuantStep:
    """Quantize (main model, and the twin when it is the subject) keeping ``keep`` float; score."""
    t = time.monotonic()
    main_q, twin_q = _paths(session, mode, k)
    targets = [(sub.main_float, main_q, session.spec)] + ([(sub.float_path, twin_q, sub.spec)] if sub.name == "twin" else [])
    tool, error = QUANTIZER, None
    for src, dst, spec in targets:
        if tool == CONVERTER:  # the main model fell back: its twin is quantized the same way
            res = _convert(session, sub, spec, mode, dst)
        else:
            res = session.run("quantize", f"quantize {mode}: {len(keep)} layers float", tflite=str(src), mode=mode,
                              keep_scopes=sub.scopes(src, keep), calibration=_cal(sub, mode), out=str(dst),
                              statistics=str(dst.parent / f"ranges-{src.stem}.pkl"))
        if res.get("dynamic_range_ops") and not keep and src == sub.main_float:
            v.notes.append(f"{res['dynamic_range_ops']} op(s) on dynamically shaped tensors cannot be calibrated "
                           f"(the runtime does not keep such tensors): quantized with dynamic range instead")
        if res.get("status") != "ok" and not keep:
            v.fallback = f"the LiteRT Quantizer failed ({res.get('error') or res.get('status')}); the converter quantized instead"
            tool, res = CONVERTER, _convert(session, sub, spec, mode, dst)
        if res.get("status") != "ok":
            error = res.get("error") or res.get("status")
            break
    v.tool = v.tool or tool
    step = QuantStep(keep_float=list(keep), tool=tool, status="ok" if error is None else "error", error=error)
    if error is None:
        subject_q = twin_q if sub.name == "twin" else main_q
        ev = _evaluate(session, sub, [subject_q], noise=[sub.float_path, subject_q] if k == 0 else None)
        step.metrics = (ev.get("metrics") or {}).get(str(subject_q))
        if ev.get("noise"):
            v.layer_noise = ev["noise"]
        if step.metrics is None:
            step.status, step.error = "error", f"scoring failed: {ev.get('error') or ev.get('status')}"
        else:
            step.passed, step.why = meets_bar(step.metrics, sub.baseline or {}, MODES[mode].bar)
        step.size = main_q.stat().st_size
    step.seconds = round(time.monotonic() - t, 2)
    v.steps.append(step)
    return step


def _cal(sub: Subject, mode: str) -> str | None:
    return str(sub.calibration) if sub.calibration and MODES[mode].needs_calibration else None


def _convert(session: Session, sub: Subject, spec: ModelSpec, mode: str, dst: Path) -> dict[str, Any]:
    conv = session.convert(sub.plan, dst, label=f"quantize {mode}: converter", spec=spec,
                           quantize={"mode": mode, "calibration": _cal(sub, mode)})
    messages = [e.get("message") or e.get("code") for e in conv.errors[:2]]
    return {"status": conv.status, "error": conv.error or "; ".join(m for m in messages if m) or conv.status}


def _deliver(session: Session, sub: Subject, v: QuantVariant, k: int, keep: list[str]) -> None:
    """Copy the chosen step's file to ``out/model.<mode>.tflite`` and audit it."""
    step = next(s for s in v.steps if len(s.keep_float) == k and s.status == "ok")
    src = _paths(session, v.mode, k)[0]
    name = f"model.{v.mode}.tflite"
    atomic.copy(src, session.out / name)
    v.path, v.size, v.keep_float = name, src.stat().st_size, keep
    v.size_ratio = round(v.size / sub.main_float.stat().st_size, 4)
    v.metrics, v.passed, v.why = step.metrics, bool(step.passed), list(step.why)
    v.audit, v.findings = _audit(session.out / name)
    runs = v.audit.get("builtin_only") and v.audit.get("invokes")
    v.status = ("ok" if v.passed else "bar_failed") if runs else "failed"
    v.reason = ("holds the bar" if v.passed else "misses the bar: " + "; ".join(v.why)) if runs else \
        "quantized model does not run builtin-only: " + (v.audit.get("error") or "see findings")


def _audit(path: Path) -> tuple[dict[str, Any], list]:
    from collections import Counter

    from opaudit.errors import OpauditError
    from opaudit.inspect import inspect_model

    try:
        rep = inspect_model(str(path), probe=True, timeout=600.0)
    except OpauditError as e:
        return {"builtin_only": False, "invokes": False, "error": str(e)}, []
    kinds = Counter(o.kind for o in rep.operators)
    dtypes = Counter(t.dtype for t in rep.tensors if t.buffer_size)
    audit = {"builtin_only": kinds.get("builtin", 0) == len(rep.operators),
             "invokes": rep.probe is not None and rep.probe.status == "ok",
             "ops": len(rep.operators), "op_histogram": dict(Counter(o.op for o in rep.operators).most_common()),
             "weight_dtypes": dict(dtypes), "error": rep.probe.error if rep.probe and rep.probe.status != "ok" else None}
    return audit, [f for f in rep.findings if f.severity == "error"]
