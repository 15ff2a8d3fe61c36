"""The fix loop: pre-audit -> convert -> inspect/probe -> pick rules -> reconvert -> parity.

`run_fix()` is the public entry (see docs/fix.md and docs/fix-json.md for the result dict).
TensorFlow only ever runs in worker processes (`runner.py`); this process reads files, runs
`inspect_model` (flatbuffer + probe subprocess) and picks rules, so a cache hit never imports TF.
"""

from __future__ import annotations

import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from opaudit import atomic
from opaudit.fix import cache, outcomes, sources
from opaudit.fix.runner import run_task
from opaudit.fix.select import extend_plan

SCHEMA_VERSION = 1


def _say(progress, text: str) -> None:
    if progress:
        progress(text)


def _cached(entry: Path, out: Path, key: str, t0: float) -> dict[str, Any]:
    import json

    fix = json.loads((entry / "fix.json").read_text())
    for name in ("model.tflite", "report.html"):
        if (entry / name).is_file():
            atomic.copy(entry / name, out / name)
    fix["cache"] = {"key": key, "hit": True, "original_seconds": fix.get("seconds")}
    fix["seconds"] = round(time.monotonic() - t0, 3)
    atomic.write_json(out / "fix.json", fix)
    return fix


def run_fix(model: str, *, out: Path, config: str = "small", weights: str | None = None,
            samples: str | None = None, max_iterations: int = 6, timeout: float = 900.0,
            rules: Sequence[str] = (), use_cache: bool = True,
            progress: Callable[[str], None] | None = None, pre_audit: bool = True) -> dict[str, Any]:
    """Convert ``model`` to a builtin-only .tflite, rewriting layers until it runs and matches Keras.

    Writes ``out/model.tflite`` (when fixed or converted), ``out/fix.json`` and, when the HTML
    renderer is installed, ``out/report.html``. ``timeout`` bounds each worker process (one
    conversion, the pre-audit, the parity run). ``pre_audit=False`` still traces the graph but
    starts from an empty plan, so every blocker is found by converting (slower; for tests and
    for comparing). Returns the fix.json dict.
    """
    t0 = time.monotonic()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    spec = sources.describe(model, config if model == "mrcnn" else None, weights)
    options = {"max_iterations": max_iterations, "timeout": timeout, "pre_audit": pre_audit}
    key = cache.key(spec, samples=samples, rules=rules, options=options)
    if use_cache and (entry := cache.lookup(key)):
        _say(progress, f"cache hit {key[:12]}")
        return _cached(entry, out, key, t0)
    work = Path(tempfile.mkdtemp(prefix="opaudit-fix-"))
    try:
        fix = _run(spec, out, work, samples=samples, max_iterations=max_iterations, timeout=timeout,
                   rules=list(rules), progress=progress, use_plan=pre_audit)
    finally:
        logs = out / "logs"
        if logs.exists():
            shutil.rmtree(logs, ignore_errors=True)
        logs.mkdir()
        for p in work.glob("task-*.log"):
            shutil.copyfile(p, logs / p.name)
        shutil.rmtree(work, ignore_errors=True)
    fix["cache"] = {"key": key, "hit": False}
    fix["seconds"] = round(time.monotonic() - t0, 2)
    _write(fix, out)
    if use_cache and fix["status"] == "fixed":
        cache.store(key, {"model.tflite": out / "model.tflite", "fix.json": out / "fix.json",
                          "report.html": out / "report.html"})
    return fix


def _write(fix: dict[str, Any], out: Path) -> None:
    atomic.write_json(out / "fix.json", fix)
    try:
        from opaudit.render.html import render_fix_html
    except ImportError:
        return
    try:
        report = None
        if (out / "model.tflite").is_file():
            from opaudit.inspect import inspect_model

            report = inspect_model(str(out / "model.tflite"), probe=False)
        atomic.write_bytes(out / "report.html", render_fix_html(fix, report).encode())
        fix["artifacts"]["report"] = "report.html"
    except Exception as exc:  # noqa: BLE001 - the report is optional; fix.json says why it is missing
        fix["artifacts"]["report_error"] = f"{type(exc).__name__}: {exc}"
    atomic.write_json(out / "fix.json", fix)


def _base(spec: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "status": "failed", "reason": "",
            "model": {"source": spec["source"], "kind": spec["kind"], "config": spec["config"],
                      "weights": spec["weights"], "overrides": spec.get("overrides") or {}, "inputs": []},
            "tool": {**cache.versions(), "python": platform.python_version()},
            "pre_audit": {"seconds": None, "findings": []}, "iterations": [],
            "op_histogram_before": None, "op_histogram_after": None, "parity": None, "unfixed": [],
            "artifacts": {"model": None, "fix_json": "fix.json", "report": None}}


def _run(spec, out: Path, work: Path, *, samples, max_iterations, timeout, rules, progress,
         use_plan: bool) -> dict[str, Any]:
    from opaudit.fix.iterate import iterate

    fix = _base(spec)
    common = {"spec": spec, "rules": rules, "samples": samples}
    if rules:  # third-party rules must be known here too (rule choice happens in this process)
        import rewrites

        rewrites.load_rules(rules)
    _say(progress, "pre-audit: tracing the model graph")
    prep = run_task({**common, "task": "prepare"}, work, timeout=timeout, label="pre-audit", progress=progress)
    if prep.get("status") in ("timeout", "crashed", "failed"):
        fix["reason"] = f"could not load/trace the model: {prep.get('error') or prep.get('status')}"
        fix["pre_audit"]["error"] = {k: prep.get(k) for k in ("status", "error", "traceback", "stage")}
        return fix
    fix["model"]["inputs"] = prep["signature"]
    fix["model"]["outputs"] = prep.get("outputs")
    pre = prep["pre_audit"]
    fix["pre_audit"] = {"seconds": pre.get("seconds"), "wall_seconds": prep["wall_seconds"],
                        "findings": outcomes.from_preaudit(pre.get("findings", [])),
                        "layer_rules": pre.get("layer_rules", {}), "note": pre.get("note")}
    ctx = {"common": {**common, "signature": prep["signature"], "outputs": prep.get("outputs")},
           "paths": set(prep.get("layers") or []), "layer_rules": pre.get("layer_rules", {}),
           "samples_note": prep.get("samples_note"), "work": work, "out": out, "timeout": timeout,
           "progress": progress}
    plan, applied, _ = extend_plan({}, fix["pre_audit"]["findings"], ctx["layer_rules"]) \
        if prep.get("layers") and use_plan else ({}, [], [])
    fix["pre_audit"]["plan"] = plan
    fix["pre_audit"]["rules_applied"] = applied
    iterate(fix, ctx, plan, max_iterations)
    return fix
