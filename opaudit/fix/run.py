"""`run_fix`: from a MODEL argument to ``out/{model.tflite, fix.json, report.html}``.

Reads in one direction: cache look-up -> prepare (build, samples, signature, pre-audit) ->
the loop (`loop.py`) -> write the result. TensorFlow only ever runs in worker processes; this
process reads files, inspects flatbuffers and picks rules, so a cache hit never imports it.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

from opaudit import atomic
from opaudit.fix import cache
from opaudit.fix import finding_adapters as adapt
from opaudit.fix.loop import iterate
from opaudit.fix.quantize import quantize_fixed
from opaudit.fix.result import FixResult, PreAudit
from opaudit.fix.rule_plan import extend_plan
from opaudit.fix.session import Session
from opaudit.fix.supervisor import WORKER
from opaudit.modelspec import ModelSpec, describe


def run_fix(model: str, *, out: Path, config: str = "small", weights: str | None = None,
            samples: str | None = None, max_iterations: int = 6, timeout: float = 900.0,
            rules: Sequence[str] = (), use_cache: bool = True,
            progress: Callable[[str], None] | None = None, pre_audit: bool = True,
            worker: tuple[str, ...] = WORKER, keras: str | None = None,
            weights_exclude: Sequence[str] = (), profile: bool = False,
            quantize: Sequence[str] = (), calibration: str | None = None) -> FixResult:
    """Convert ``model`` to a builtin-only .tflite, rewriting layers until it runs and matches Keras.

    Writes ``out/model.tflite`` (when converted), ``out/fix.json`` (``FixResult.to_dict()``) and
    ``out/report.html``. ``timeout`` bounds each worker process (one conversion, the pre-audit,
    the parity run). ``pre_audit=False`` still traces the graph but starts from an empty plan,
    so every blocker is found by converting. ``worker`` is the worker command (tests inject
    one). ``keras`` ("2" | "3") overrides the detected Keras version of the model's code or file
    (`opaudit.modelspec`). ``weights_exclude`` names layers not to load from ``weights`` (heads
    whose class count differs). A fixed model's whole-model latency is measured at 1 thread and
    every core (``runtime`` in fix.json); ``profile=True`` adds the per-node profile
    (``profile``, the report's latency section). ``quantize`` (modes of `opaudit.quantize.modes`)
    adds quantized variants of a fixed model, ``out/model.<mode>.tflite``, scored on the task
    against the float Keras model (``quantization`` in fix.json; int8 calibrates on
    ``calibration``, a ``file.py:function``, else on the parity samples). Raises UsageError for
    a MODEL, weights or samples the tool cannot use.
    """
    t0 = time.monotonic()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    spec = dataclasses.replace(describe(model, config if model == "mrcnn" else None, weights, keras),
                               weights_exclude=list(weights_exclude))
    options = {"max_iterations": max_iterations, "timeout": timeout, "pre_audit": pre_audit, "profile": profile,
               "quantize": list(quantize), "calibration": calibration}
    key = cache.key(spec, samples=samples, rules=rules, options=options)
    if use_cache and (entry := cache.lookup(key)):
        _say(progress, f"cache hit {key[:12]}")
        return _from_cache(entry, out, key, t0)
    with tempfile.TemporaryDirectory(prefix="opaudit-fix-") as work:
        session = Session(spec, Path(work), out, timeout, rules=list(rules), samples=samples,
                          progress=progress, worker=worker)
        try:
            result = _fix(session, max_iterations=max_iterations, use_plan=pre_audit)
            if result.fixed and quantize:
                result.quantization = quantize_fixed(session, result, list(quantize), out / "model.tflite", calibration)
        finally:
            _keep_logs(Path(work), out)
    result.cache = {"key": key, "hit": False}
    if result.fixed:
        measure_latency(result, out / "model.tflite", per_node=profile, progress=progress, timeout=timeout)
        for v in result.quantization.variants if result.quantization else []:
            if v.path:
                v.runtime = whole_model_latency(out / v.path, progress, timeout)
        if result.quantization:
            result.quantization.float_runtime = result.runtime
    result.seconds = round(time.monotonic() - t0, 2)
    write_outputs(result, out)
    if use_cache and result.fixed:
        names = ["model.tflite", "fix.json", "report.html"] + [v.path for v in _variants(result) if v.path]
        cache.store(key, {name: out / name for name in names})
    return result


def measure_latency(result: FixResult, tflite: Path, *, per_node: bool, progress=None, timeout: float = 900.0) -> None:
    """Fill ``result.runtime`` (whole model, XNNPACK, 1 thread vs every core) and, with
    ``per_node``, ``result.profile``; a model that does not run leaves ``{"error": ...}``."""
    if not per_node:
        result.runtime = whole_model_latency(tflite, progress, timeout)
        return
    from opaudit.errors import OpauditError
    from opaudit.profile import profile_model
    from opaudit.profile.aggregate import runtime_settings

    _say(progress, "latency: per-node profile")
    try:
        prof = profile_model(str(tflite), runs=3, nodes=True, timeout=max(timeout, 600.0),
                             modes=("xnnpack", "builtin"))
    except OpauditError as e:
        result.runtime = result.profile = {"error": str(e)}
        return
    result.runtime = runtime_settings(prof)
    result.profile = prof.to_dict()


def whole_model_latency(tflite: Path, progress=None, timeout: float = 900.0) -> dict:
    """XNNPACK whole-model latency at 1 thread and every core (`runtime_settings`), or ``{"error"}``."""
    from opaudit.errors import OpauditError
    from opaudit.profile import profile_model
    from opaudit.profile.aggregate import runtime_settings

    _say(progress, f"latency: {tflite.name}, whole model, 1 thread vs every core")
    try:
        return runtime_settings(profile_model(str(tflite), runs=3, nodes=False, timeout=max(timeout, 600.0),
                                              modes=("xnnpack",)))
    except OpauditError as e:
        return {"error": str(e)}


def _say(progress, text: str) -> None:
    if progress:
        progress(text)


def _variants(result: FixResult) -> list:
    return result.quantization.variants if result.quantization else []


def _from_cache(entry: Path, out: Path, key: str, t0: float) -> FixResult:
    result = FixResult.from_dict(json.loads((entry / "fix.json").read_text()))
    for name in ["model.tflite", "report.html"] + [v.path for v in _variants(result) if v.path]:
        if (entry / name).is_file():
            atomic.copy(entry / name, out / name)
    result.cache = {"key": key, "hit": True, "original_seconds": result.seconds}
    result.seconds = round(time.monotonic() - t0, 3)
    atomic.write_json(out / "fix.json", result.to_dict())
    return result


def _keep_logs(work: Path, out: Path) -> None:
    """The worker logs of this run replace ``out/logs`` (the work folder itself is removed)."""
    logs = out / "logs"
    if logs.exists():
        shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    for p in work.glob("task-*.log"):
        shutil.copyfile(p, logs / p.name)


def _new_result(spec: ModelSpec) -> FixResult:
    return FixResult(model={"source": spec.source, "kind": spec.kind, "config": spec.config,
                            "weights": spec.weights, "overrides": spec.overrides or {}, "keras": spec.keras,
                            "inputs": []},
                     tool={**cache.versions(), "python": platform.python_version()})


def _fix(session: Session, *, max_iterations: int, use_plan: bool) -> FixResult:
    result = _new_result(session.spec)
    if session.rules:  # third-party rules must be known here too (rule choice happens in this process)
        import rewrites

        rewrites.load_rules(session.rules)
    session.say("pre-audit: tracing the model graph")
    if not prepare(session, result):
        return result
    plan = {}
    if use_plan and session.layer_paths:
        step = extend_plan({}, result.pre_audit.findings, session.layer_rules)
        plan, result.pre_audit.rules_applied = step.plan, step.applied
    result.pre_audit.plan = plan
    iterate(session, result, plan, max_iterations)
    return result


def prepare(session: Session, result: FixResult) -> bool:
    """The prepare task: fills the session (signature, layers, samples) and ``result.pre_audit``.
    False (with ``result.reason``) when the model could not be built or traced."""
    prep = session.run("prepare", "pre-audit")
    if prep.get("status") in ("timeout", "crashed", "failed"):
        result.reason = f"could not load/trace the model: {prep.get('error') or prep.get('status')}"
        result.pre_audit = PreAudit(error={k: prep.get(k) for k in ("status", "error", "traceback", "stage")})
        return False
    session.signature = prep["signature"]
    session.outputs = prep.get("outputs")
    session.layer_paths = set(prep.get("layers") or [])
    session.samples_note = prep.get("samples_note") or ""
    pre = prep["pre_audit"]
    session.layer_rules = pre.get("layer_rules", {})
    result.model["inputs"] = prep["signature"]
    result.model["outputs"] = prep.get("outputs")
    if prep.get("weights_report"):
        result.model["weights_report"] = prep["weights_report"]
    result.pre_audit = PreAudit(seconds=pre.get("seconds"), wall_seconds=prep["wall_seconds"],
                                findings=adapt.from_preaudit(pre.get("findings", [])),
                                layer_rules=session.layer_rules, note=pre.get("note"))
    return True


def write_outputs(result: FixResult, out: Path) -> None:
    """``fix.json``, then the HTML report (its failure is recorded in ``fix.json``, never raised)."""
    atomic.write_json(out / "fix.json", result.to_dict())
    try:
        from opaudit.inspect import inspect_model
        from opaudit.render.html import render_fix_html

        report = inspect_model(str(out / "model.tflite"), probe=False) if (out / "model.tflite").is_file() else None
        atomic.write_bytes(out / "report.html", render_fix_html(result.to_dict(), report).encode())
        result.artifacts["report"] = "report.html"
    except Exception as exc:  # noqa: BLE001 - the report is optional; fix.json says why it is missing
        result.artifacts["report_error"] = f"{type(exc).__name__}: {exc}"
    atomic.write_json(out / "fix.json", result.to_dict())
