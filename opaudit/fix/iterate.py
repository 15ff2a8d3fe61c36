"""One fix iteration after another until the model is builtin-only, invokes and matches Keras.

Each iteration converts with the current plan (in a worker), then either parses the
converter's structured errors or inspects the flatbuffer (with a real invoke), turns what it
found into findings mapped to layers and extends the plan. It stops when

* the model converts, has no custom/Flex op, invokes and passes parity -> ``fixed``;
* a blocking finding has no rule (``unfixed`` lists op, layer, node, error) -> ``failed``;
* the findings and plan repeat (no progress) or ``max_iterations`` is reached -> ``failed``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from opaudit import atomic
from opaudit.fix import outcomes
from opaudit.fix.runner import run_task
from opaudit.fix.select import extend_plan

PARITY_OVERRIDES = {"DETECTION_MIN_CONFIDENCE": 0.0}
# Per-node delegate findings: counted per iteration, not listed (hundreds on a detector).
OTHER_TARGETS = {"XNNPACK_UNSUPPORTED", "GPU_UNSUPPORTED"}


def _what(ctx, plan) -> str:
    src = ctx["common"]["spec"]["source"]
    return f"{src} with plan {plan}" if plan else f"{src} (no rewrites)"


def _inspect(path: Path, ctx) -> tuple[Any, list[dict[str, Any]]]:
    """`inspect_model` with a real invoke; if opaudit.inspect is unavailable, parse the flatbuffer
    only (op kinds; the parity step still invokes the model)."""
    try:
        from opaudit.inspect import inspect_model

        report = inspect_model(str(path), target="cpu", probe=True, timeout=min(ctx["timeout"], 300.0))
    except Exception as exc:  # noqa: BLE001 - degrade to the flatbuffer; say so in the iteration
        from types import SimpleNamespace

        from opaudit.flatbuf.model import load

        report = SimpleNamespace(operators=load(str(path)).operators, findings=[], probe=None,
                                 error=f"inspect_model failed: {type(exc).__name__}: {exc}")
        return report, []
    return report, outcomes.from_report(report, ctx["paths"])


def iterate(fix: dict[str, Any], ctx: dict[str, Any], plan: dict[str, list[str]], max_iterations: int) -> None:
    seen: set = set()
    for n in range(1, max_iterations + 1):
        it: dict[str, Any] = {"n": n, "plan": plan, "size": None, "op_histogram": None,
                              "findings": [], "probe": None, "rules_applied": []}
        fix["iterations"].append(it)
        tfl = ctx["work"] / f"iter-{n}.tflite"
        conv = run_task({**ctx["common"], "task": "convert", "plan": plan, "out": str(tfl)}, ctx["work"],
                        timeout=ctx["timeout"], label=f"iteration {n}: converting", progress=ctx["progress"])
        it["conversion"] = {k: conv.get(k) for k in ("status", "seconds", "wall_seconds", "errors",
                                                      "peak_rss_mb", "stage", "error", "record")}
        if conv["status"] != "ok":
            it["findings"] = outcomes.from_conversion(conv, _what(ctx, plan))
            if conv["status"] != "error":
                fix["unfixed"] = [{"op": None, "layer": None, "code": f["code"], "error": f["message"],
                                   "why": "conversion did not complete"} for f in it["findings"]]
                fix["reason"] = it["findings"][0]["message"]
                return
        else:
            it["size"] = conv.get("size")
            report, found = _inspect(tfl, ctx)
            it["findings"] = [f for f in found if f["code"] not in OTHER_TARGETS]
            it["other_target_findings"] = dict(Counter(f["code"] for f in found if f["code"] in OTHER_TARGETS))
            it["op_histogram"] = outcomes.histogram(report)
            it["probe"] = outcomes.to_jsonable(report.probe) if report.probe else None
            it["non_builtin"] = outcomes.non_builtin(report)
            if getattr(report, "error", None):
                it["inspect_error"] = report.error
            fix["op_histogram_before"] = fix["op_histogram_before"] or it["op_histogram"]
            fix["op_histogram_after"] = it["op_histogram"]
            atomic.copy(tfl, ctx["out"] / "model.tflite")
            fix["artifacts"]["model"] = "model.tflite"
            blocking = [f for f in it["findings"] if f["severity"] == "error" and "cpu" in f["targets"]]
            if not blocking and not it["non_builtin"] and (report.probe is None or report.probe.status == "ok"):
                new_plan, applied, _ = extend_plan(plan, outcomes.actionable(it["findings"]),
                                                   ctx["layer_rules"])
                if applied:  # optional improvements (warnings with a rule not yet applied)
                    it["rules_applied"] = applied
                    plan = new_plan
                    continue
                _parity(fix, ctx, tfl, plan)
                return
        state = (outcomes.key_of(it["findings"]), repr(sorted(plan.items())))
        plan_next, applied, unfixed = extend_plan(plan, outcomes.actionable(it["findings"]), ctx["layer_rules"])
        it["rules_applied"] = applied
        if unfixed or not applied or state in seen:
            fix["unfixed"] = unfixed
            fix["reason"] = ("not fixable: " + "; ".join(f"{u['op']} at layer {u['layer']} ({u['why']})"
                                                         for u in unfixed)
                             if unfixed else "no progress: the same findings came back with the same plan")
            return
        seen.add(state)
        plan = plan_next
    fix["reason"] = f"not fixed after {max_iterations} iterations"


def _parity_run(ctx, tfl: Path, spec: dict[str, Any], label: str) -> dict[str, Any]:
    res = run_task({**ctx["common"], "spec": spec, "task": "parity", "tflite": str(tfl)}, ctx["work"],
                   timeout=ctx["timeout"], label=label, progress=ctx["progress"])
    if res.get("status") != "ok":
        return {"passed": False, "error": res.get("error") or res.get("status"),
                "traceback": res.get("traceback")}
    out = {k: res.get(k) for k in ("passed", "samples", "bar", "matching", "outputs")}
    out["seconds"] = res.get("wall_seconds")
    out["peak_rss_mb"] = res.get("peak_rss_mb")
    return out


def _twin(fix: dict[str, Any], ctx: dict[str, Any], plan) -> dict[str, Any] | None:
    """Untrained mrcnn detects nothing at the configured DETECTION_MIN_CONFIDENCE (called only when
    the Keras model gave no detection on any sample): convert a twin
    with PARITY_OVERRIDES (same weights, same plan) so detections and masks get compared too."""
    spec = ctx["common"]["spec"]
    if spec["kind"] != "mrcnn" or spec.get("weights"):
        return None
    twin_spec = {**spec, "overrides": {**spec.get("overrides", {}), **PARITY_OVERRIDES}}
    tfl = ctx["work"] / "parity-twin.tflite"
    conv = run_task({**ctx["common"], "spec": twin_spec, "task": "convert", "plan": plan, "out": str(tfl)},
                    ctx["work"], timeout=ctx["timeout"], label="parity twin: converting",
                    progress=ctx["progress"])
    if conv["status"] != "ok":
        return {"passed": False, "error": f"twin conversion {conv['status']}: {conv.get('error')}",
                "overrides": PARITY_OVERRIDES}
    res = _parity_run(ctx, tfl, twin_spec, "parity twin: Keras vs TFLite")
    res["overrides"] = PARITY_OVERRIDES
    res["conversion_seconds"] = conv.get("seconds")
    return res


def _parity(fix: dict[str, Any], ctx: dict[str, Any], tfl: Path, plan) -> None:
    main = _parity_run(ctx, tfl, ctx["common"]["spec"], "parity: Keras vs TFLite")
    fix["parity"] = main
    main["note"] = ctx.get("samples_note")
    if main.get("error"):
        fix["reason"] = f"parity check could not run: {main['error']}"
        return
    detected = sum(o.get("keras") or 0 for o in main["outputs"] if o["kind"] == "detections")
    twin = _twin(fix, ctx, plan) if detected == 0 else None
    if twin is not None:
        main["twin"] = twin
        main["note"] += (f"; untrained mrcnn: detections/masks also checked on a twin converted with "
                         f"{PARITY_OVERRIDES} (same weights and plan) so detections are non-empty")
    bad = [o["name"] for o in main["outputs"] if not o["passed"]]
    bad += [f"twin:{o['name']}" for o in (twin or {}).get("outputs") or [] if not o["passed"]]
    if twin is not None and twin.get("error"):
        bad.append(f"twin ({twin['error']})")
    main["passed"] = not bad
    if not bad:
        fix["status"] = "fixed"
        fix["reason"] = "builtin-only, invokes, and matches Keras on every output"
        return
    fix["reason"] = f"PARITY FAILED on {', '.join(bad)}: the converted model computes something else"
    fix["unfixed"] = [{"op": None, "layer": None, "code": "PARITY_FAILED", "output": b,
                       "error": "outputs differ from Keras", "why": "no rule answers a parity failure"}
                      for b in bad]
