"""Terminal summary of a `FixResult` (status, pre-audit, iterations, parity, what has no rule)."""

from __future__ import annotations

from typing import Any

from opaudit.fix.result import FixResult, ParityReport


def _layers(names: list[str], n: int = 3) -> str:
    return ", ".join(names[:n]) + (f" +{len(names) - n} more" if len(names) > n else "")


def _plan_delta(prev: dict, plan: dict) -> str:
    by_rule: dict[str, list[str]] = {}
    for layer, rules in plan.items():
        for r in rules:
            if r not in prev.get(layer, []):
                by_rule.setdefault(r, []).append(layer)
    return "\n".join(f"{r}: {_layers(ls)}" for r, ls in by_rule.items()) or "-"


def _num(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _ops_delta(delta: dict[str, int] | None) -> str:
    if not delta:
        return "-"
    items = sorted(delta.items(), key=lambda kv: -abs(kv[1]))
    return " ".join(f"{op}{n:+d}" for op, n in items[:4]) + (f" +{len(items) - 4}" if len(items) > 4 else "")


def print_summary(result: FixResult, console=None) -> None:
    """Status line, pre-audit blockers, iterations, parity per output, what has no rule, artifacts."""
    from rich.console import Console

    console = console or Console()
    color = "green" if result.fixed else "red"
    console.print(f"[bold {color}]{result.status.upper()}[/]: {result.reason}", markup=True, highlight=False)
    if result.cache.get("hit"):
        console.print(f"served from cache {result.cache['key'][:12]} in {result.seconds} s")
    blockers = [f for f in result.pre_audit.findings if f.severity != "info"]
    if blockers:
        groups: dict[tuple, list[str]] = {}
        for f in blockers:
            groups.setdefault((f.code, f.op), []).append(str(f.layer))
        console.print(f"pre-audit ({result.pre_audit.seconds} s): " + "; ".join(
            f"{code} {op or ''} @ {_layers(ls)}" for (code, op), ls in groups.items()))
    console.print(_iterations_table(result))
    if result.parity and result.parity.outputs:
        console.print(_parity_table(result.parity))
        if result.parity.note:
            console.print(f"note: {result.parity.note}")
    for u in result.unfixed:
        console.print(f"[red]unfixed[/] {u.code} {u.op or u.output or ''} @ {u.layer}: {u.why} {u.error or ''}")
    _print_runtime(result, console)
    if result.quantization:
        console.print(_quant_table(result))
    console.print("artifacts: " + ", ".join(f"{k}={v}" for k, v in result.artifacts.items() if v))


def _print_runtime(result: FixResult, console) -> None:
    """One line: the fastest measured runtime setting (fix.json `runtime`), or why there is none."""
    rt = result.runtime or {}
    best = rt.get("recommended")
    if best:
        measured = ", ".join(f"{m['threads']} thread(s) {m['mode']} {m['median_s']:.3f} s" for m in rt.get("measured", []))
        console.print(f"runtime: fastest num_threads={best['num_threads']}, XNNPACK {'on' if best['xnnpack'] else 'off'} "
                      f"({measured})", markup=False, highlight=False)
    elif rt.get("error"):
        console.print(f"runtime: not measured: {rt['error']}", markup=False, highlight=False)


def _iterations_table(result: FixResult):
    from rich.table import Table

    table = Table("n", "rules added", "conversion", "seconds", "peak RSS MB", "size", "probe", "op change",
                  title="iterations")
    prev: dict = {}
    for it in result.iterations:
        conv = it.conversion
        errs = "; ".join(f"{e.get('op')} @ {e.get('layer')}" for e in (conv.errors if conv else []))
        table.add_row(str(it.n), _plan_delta(prev, it.plan),
                      (conv.status if conv else "?") + (f" ({errs})" if errs else ""),
                      str(conv.seconds if conv else None), str(conv.peak_rss_mb if conv else None),
                      str(it.size), it.probe.status if it.probe else "-", _ops_delta(it.op_delta))
        prev = it.plan
    return table


def _parity_table(parity: ParityReport):
    from rich.table import Table

    table = Table("output", "kind", "result", "detail", title=f"parity ({parity.samples} samples)")
    twin = [{**o, "name": "twin:" + o["name"]} for o in (parity.twin.outputs if parity.twin else [])]
    for o in parity.outputs + twin:
        detail = " ".join(f"{k}={_num(o[k])}" for k in ("max_rel", "keras", "tflite", "matched", "max_box_err",
                                                          "compared", "min_iou", "reordered")
                          if o.get(k) is not None)
        table.add_row(o["name"], o["kind"], "[green]ok[/]" if o["passed"] else "[red]FAILED[/]", detail)
    return table


def _quant_table(result: FixResult):
    """Float and every quantized mode side by side (`opaudit.quantize.summary.rows`)."""
    from rich.table import Table

    from opaudit.quantize.summary import rows

    q = result.to_dict()["quantization"]
    t = Table(title=f"quantized variants (task metrics vs float Keras on {q['samples']} samples, {q['subject']})")
    for col in ("mode", "status", "tool", "size", "latency", "task metric", "kept float", "why"):
        t.add_column(col)
    for r in rows(q):
        if r.get("agreement") is not None or "agreement" in r:
            metric = (f"agreement {_num(r['agreement'])} % ({r['matched']}/{r['keras']}), mask IoU {_num(r['mask_iou'])}"
                      if r.get("agreement") is not None else "no detections")
        else:
            metric = f"cosine {r['cosine']:.5f}, SNR {r['snr_db']:.1f} dB" if r.get("cosine") is not None else "-"
        size = f"{r['size'] / 1e6:.2f} MB ({r['size_ratio']:.2f}x)" if r.get("size") else "-"
        lat = f"{r['latency_s'] * 1e3:.3g} ms" if r.get("latency_s") else "-"
        tool = str(r["tool"] or "-").replace("ai-edge-", "").replace("tflite-", "")
        t.add_row(r["mode"], str(r["status"]), tool, size, lat, metric,
                  "-" if r["kept_float"] is None else str(r["kept_float"]), r["reason"][:80])
    return t
