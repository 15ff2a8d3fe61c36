"""Terminal summary of a fix result (the dict documented in docs/fix-json.md)."""

from __future__ import annotations

from typing import Any


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


def print_summary(fix: dict[str, Any], console=None) -> None:
    """Status line, iterations, parity per output, what has no rule, artifacts."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    ok = fix.get("status") == "fixed"
    console.print(f"[bold {'green' if ok else 'red'}]{fix.get('status', '?').upper()}[/]: {fix.get('reason', '')}")
    if fix.get("cache", {}).get("hit"):
        console.print(f"served from cache {fix['cache']['key'][:12]} in {fix.get('seconds')} s")
    pre = fix.get("pre_audit") or {}
    blockers = [f for f in pre.get("findings", []) if f.get("severity") != "info"]
    if blockers:
        groups: dict[tuple, list[str]] = {}
        for f in blockers:
            groups.setdefault((f["code"], f.get("op")), []).append(str(f.get("layer")))
        console.print(f"pre-audit ({pre.get('seconds')} s): " + "; ".join(
            f"{code} {op or ''} @ {_layers(ls)}" for (code, op), ls in groups.items()))
    table = Table("n", "rules added", "conversion", "seconds", "peak RSS MB", "size", "probe", title="iterations")
    prev: dict = {}
    for it in fix.get("iterations", []):
        conv = it.get("conversion") or {}
        errs = "; ".join(f"{e.get('op')} @ {e.get('layer')}" for e in conv.get("errors") or [])
        table.add_row(str(it["n"]), _plan_delta(prev, it.get("plan") or {}),
                      conv.get("status", "?") + (f" ({errs})" if errs else ""), str(conv.get("seconds")),
                      str(conv.get("peak_rss_mb")), str(it.get("size")),
                      (it.get("probe") or {}).get("status", "-"))
        prev = it.get("plan") or {}
    console.print(table)
    parity = fix.get("parity")
    if parity and parity.get("outputs"):
        pt = Table("output", "kind", "result", "detail", title=f"parity ({parity.get('samples')} samples)")
        for o in parity["outputs"] + [{**o, "name": "twin:" + o["name"]} for o in
                                      (parity.get("twin") or {}).get("outputs") or []]:
            detail = " ".join(f"{k}={_num(o[k])}" for k in ("max_rel", "keras", "tflite", "matched", "max_box_err",
                                                              "compared", "min_iou", "reordered")
                              if o.get(k) is not None)
            pt.add_row(o["name"], o["kind"], "[green]ok[/]" if o["passed"] else "[red]FAILED[/]", detail)
        console.print(pt)
        if parity.get("note"):
            console.print(f"note: {parity['note']}")
    for u in fix.get("unfixed", []):
        console.print(f"[red]unfixed[/] {u.get('code')} {u.get('op') or u.get('output') or ''} "
                      f"@ {u.get('layer')}: {u.get('why')} {u.get('error') or ''}")
    arts = fix.get("artifacts") or {}
    console.print("artifacts: " + ", ".join(f"{k}={v}" for k, v in arts.items() if v))
