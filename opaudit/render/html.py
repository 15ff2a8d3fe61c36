"""Self-contained HTML reports: `render_inspect_html(report)` and `render_fix_html(fix, report)`.

One file, nothing loaded at view time: CSS and JS from `render/static/` are inlined and allowed
by a Content-Security-Policy carrying their sha256 (computed here, at render time). Every
string that comes from the model (tensor, op, custom code, layer, metadata, error text) is
untrusted: it only reaches the page through Jinja2 autoescape, or through the JSON data block
with `<`, `>`, `&`, U+2028 and U+2029 escaped. Pure functions: no file or network I/O besides
reading the package's own templates and static files.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import jinja2

from opaudit.findings import TARGETS, ModelReport, Operator
from opaudit.render import graph as graphmod
from opaudit.render.model_explorer import STATUS_VALUE, model_explorer_overlay, node_findings, node_status

RuleLookup = Callable[[Operator], "str | None"]
MAX_GRAPHS = 24  # neighbourhood drawings per report (one per failing node, first ones)
MAX_LAYER_OPTIONS = 1000
NAME_SHOWN = 120  # characters of a name shown in a table cell (full name in the details panel)
# The overlay embedded for download keys nodes by tensor name; longer (pathological) names are left
# out of the page rather than carried whole: `opaudit inspect --model-explorer` writes every node.
OVERLAY_KEY_MAX = 2000
NAME_DATA = 4000  # characters of a name kept in the JSON data block
TARGET_LABEL = {"cpu": "CPU (builtin kernels)", "xnnpack": "XNNPACK delegate", "gpu": "GPU delegate"}
TARGET_SHORT = {"cpu": "CPU", "xnnpack": "XNNPACK", "gpu": "GPU"}


HERE = Path(__file__).resolve().parent  # templates/ and static/ ship as package data next to this file


def _read_static(name: str) -> str:
    return (HERE / "static" / name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


@lru_cache(maxsize=1)
def _assets() -> tuple[str, str, str]:
    """(css, js, CSP). The hashes cover the exact text placed between the tags."""
    css, js = _read_static("report.css"), _read_static("report.js")
    for text, tag in ((css, "</style"), (js, "</script")):
        if tag in text.lower():
            raise ValueError(f"static asset contains {tag}")
    csp = (f"default-src 'none'; style-src '{_sha256(css)}'; script-src '{_sha256(js)}'; "
           "img-src data:; base-uri 'none'; form-action 'none'")
    return css, js, csp


@lru_cache(maxsize=1)
def renderer_fingerprint() -> str:
    """sha256 over this module, the templates and the static assets: what shapes a page.

    Written into every page (`<meta name="opaudit-renderer">`) so that a committed example
    report can be checked for staleness against the current renderer.
    """
    h = hashlib.sha256(Path(__file__).read_bytes())
    for f in sorted((HERE / "templates").iterdir()) + sorted((HERE / "static").iterdir()):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def json_for_html(data: Any) -> str:
    """JSON safe inside `<script type="application/json">`: no `<`, `>`, `&`, U+2028/9 left."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def human_bytes(n: Any) -> str:
    if not isinstance(n, (int, float)):
        return "\u2014"
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def num(v: Any) -> str:
    """Numbers for tables: floats with 3 significant digits, None as a dash."""
    if v is None or v == "":
        return "\u2014"
    if isinstance(v, bool) or isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return f"{v:.3g}"
    return short(v, 80)


def short(text: Any, n: int = NAME_SHOWN) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= n else text[: n - 1] + "\u2026"


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "j2"), default=True),
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.autoescape = True  # explicit: every template, whatever its name
    env.filters.update(human_bytes=human_bytes, short=short, num=num)
    return env


def rewrites_rule_lookup(op: Operator) -> str | None:
    """Rule names from `rewrites.rules_for_tf_op(tf_op)`, or None (no rule / rewrites missing)."""
    try:
        from rewrites import rules_for_tf_op  # lazy: rewrites may pull in TensorFlow
    except ImportError:
        return None
    rules = rules_for_tf_op(op.tf_op or op.op)
    return ", ".join(r.name for r in rules) or None


def _shape(t) -> str:
    if t is None:
        return "?"
    dims = t.shape_signature if t.shape_signature is not None else t.shape
    return f"{t.dtype}[{','.join(str(d) for d in dims)}]"


def _verdicts(report: ModelReport, blocked_by: dict[str, list]) -> list[dict[str, str]]:
    """Plain-words verdict per target: [{"name", "state": ok|warn|bad, "text"}]. Counts are
    nodes (`ModelReport.blocked_nodes`), the same figures as the terminal and JSON `counts`."""
    out = []
    for t in TARGETS:
        nodes = blocked_by[t]
        ops = Counter(op.op for op in nodes)
        listing = ", ".join(f"{op} \u00d7{n}" for op, n in ops.most_common(4)) + (" \u2026" if len(ops) > 4 else "")
        deleg = report.delegation.get(t)
        source = f" [{report.verdict_sources()[t]}]"
        if nodes:
            what = "Cannot run" if t == "cpu" else "Not usable as is"
            text = f"{what}{source}: {len(nodes)} node(s) blocked ({listing})."
            state = "bad" if t == report.target else "warn"
        elif deleg and deleg.delegated_count < len(deleg.nodes):
            left = len(deleg.nodes) - deleg.delegated_count
            state, text = "warn", f"Runs{source}, but {left} node(s) stay on CPU kernels."
        else:
            state, text = "ok", f"Runs{source}: no node is blocked."
        out.append({"name": TARGET_LABEL[t], "state": state, "text": text})
    flex = [o for o in report.operators if o.kind == "flex"]
    if flex:
        ops = sorted({o.op for o in flex})
        more = " \u2026" if len(ops) > 4 else ""
        out.append({"name": "Flex (Select TF ops)", "state": "bad",
                    "text": f"Needs the Flex delegate for {len(flex)} node(s) ({', '.join(ops[:4])}{more}); "
                            "no pip runtime links it."})
    else:
        out.append({"name": "Flex (Select TF ops)", "state": "ok", "text": "Not needed: no Flex op."})
    return out


def _delegation_cards(report: ModelReport) -> list[dict[str, Any]]:
    """One card per delegate: verdict, source, partitions, coverage, splitters, what-if line."""
    ops = {(o.subgraph, o.index): o for o in report.operators}
    cards = []
    for t, d in report.delegation.items():
        split = [f"{k[0]}:{k[1]} {ops[k].op}" if k in ops else f"{k[0]}:{k[1]}" for k in d.splitters[:12]]
        what_if = None
        if d.if_static:
            w = d.if_static
            what_if = (f"with every dynamic dim fixed: {w['verdict']}, {w['partitions']} partition(s), "
                       f"{w['node_share']:.0%} of nodes, {w['flop_share']:.0%} of FLOPs")
        cards.append({"target": t, "label": TARGET_LABEL[t], "d": d, "delegated": d.delegated_count,
                      "total": len(d.nodes), "splitters": split, "more_splitters": max(0, len(d.splitters) - 12),
                      "what_if": what_if, "state": {"yes": "ok", "maybe": "warn", "no": "bad"}[d.verdict]})
    return cards


def _node_rows(report: ModelReport, found, status, tensors) -> tuple[list, dict, dict[str, list]]:
    """Table rows, per-node details for the JSON block, and the nodes blocked per target."""
    blocked_by: dict[str, list] = {t: [] for t in TARGETS}
    rows, details = [], {}
    for op in report.operators:
        key = (op.subgraph, op.index)
        fs = found.get(key, [])
        cells = []
        for t in TARGETS:
            if any(f.blocks(t) for f in fs):
                blocked_by[t].append(op)
                cells.append(("no", "; ".join(f.message for f in fs if f.blocks(t))))
            else:
                sup = report.support.get(op.op, {}).get(t)
                cells.append((sup.status if sup else "unknown", sup.reason if sup else ""))
        outs = [tensors.get((op.subgraph, i)) for i in op.outputs]
        name = op.node_name or (outs[0].name if outs and outs[0] else "")
        st = status[key]
        rows.append([op.subgraph, op.index, op.op, op.kind, op.layer or "", name,
                     " ".join(_shape(t) for t in outs), cells, st,
                     f"blocked on {report.target}" if st == "blocked" else st])
        details[f"{op.subgraph}:{op.index}"] = _node_detail(op, fs, outs, tensors)
    return rows, details, blocked_by


def _node_detail(op: Operator, fs, outs, tensors) -> dict[str, Any]:
    def inp(i):
        t = tensors.get((op.subgraph, i))
        return [i, short(t.name, NAME_DATA), _shape(t)] if t else [i, "", "?"]

    return {
        "op": op.op, "tf_op": op.tf_op, "tf_name": short(op.tf_name, NAME_DATA),
        "layer": short(op.layer, NAME_DATA), "layer_source": op.layer_source,
        "node": short(op.node_name, NAME_DATA), "version": op.version,
        "in": [inp(i) for i in op.inputs],
        "out": [[i, short(t.name, NAME_DATA) if t else "", _shape(t)] for i, t in zip(op.outputs, outs)],
        "findings": [[f.code, short(f.message, NAME_DATA)] for f in fs],
    }


def _matrix(report: ModelReport, counts: Counter, kinds: dict, blocked_by) -> list[dict[str, Any]]:
    """Op x target support matrix; a cell with blocked nodes shows "no" and their number."""
    blocked_count = {t: Counter(o.op for o in blocked_by[t]) for t in TARGETS}
    matrix = []
    for op, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        cells = []
        for t in TARGETS:
            sup = report.support.get(op, {}).get(t)
            b = blocked_count[t][op]
            cells.append({"status": "no" if b else (sup.status if sup else "unknown"),
                          "reason": sup.reason if sup else "", "blocked": b})
        matrix.append({"op": op, "kind": kinds[op], "count": n, "cells": cells})
    return matrix


def inspect_context(report: ModelReport, rule_lookup: RuleLookup | None = None) -> dict[str, Any]:
    """Everything the inspect templates need, as plain values (names still unescaped)."""
    lookup = rule_lookup if rule_lookup is not None else rewrites_rule_lookup
    found = node_findings(report)
    tensors = {(t.subgraph, t.index): t for t in report.tensors}
    rows, details, blocked_by = _node_rows(report, found, node_status(report, found), tensors)
    counts = Counter(o.op for o in report.operators)
    kinds = {o.op: o.kind for o in report.operators}
    op_ids = {op: i for i, op in enumerate(sorted(counts))}
    layers = sorted({o.layer for o in report.operators if o.layer})[:MAX_LAYER_OPTIONS]
    layer_ids = {layer: i for i, layer in enumerate(layers)}
    for row in rows:  # filter keys: small integers instead of (untrusted, long) names
        row += [op_ids[row[2]], layer_ids.get(row[4], "")]
    return {
        "report": report, "targets": TARGETS, "target_label": TARGET_LABEL, "target_short": TARGET_SHORT,
        "verdicts": _verdicts(report, blocked_by), "delegation": _delegation_cards(report),
        "overall_bad": bool(report.blocking()),
        "rows": rows, "matrix": _matrix(report, counts, kinds, blocked_by),
        "failing": _failing(report, found, tensors, lookup),
        "model_findings": [f for f in report.findings if not f.nodes()],
        "finding_groups": _finding_groups(report),
        "filters": {"ops": sorted(counts), "kinds": sorted(set(kinds.values())), "layers": layers,
                    "statuses": list(STATUS_VALUE)},
        "data": {"nodes": details, "overlay": model_explorer_overlay(report, OVERLAY_KEY_MAX), "sha256": report.sha256},
    }


def _failing(report, found, tensors, lookup) -> list[dict[str, Any]]:
    """Nodes blocked on `report.target`, each with findings, rule and (first ones) a drawing."""
    blocked_keys = [k for k, fs in found.items() if any(f.blocks(report.target) for f in fs)]
    ops = {(o.subgraph, o.index): o for o in report.operators}
    index = graphmod.index_subgraphs(report.operators)
    blocked_sets: dict[int, set[int]] = {}
    for sg, i in blocked_keys:
        blocked_sets.setdefault(sg, set()).add(i)
    out = []
    for key in sorted(blocked_keys):
        op = ops.get(key)
        fs = [f for f in found[key] if f.severity == "error"]
        item = {"sg": key[0], "index": key[1], "op": op, "findings": fs, "graph": None,
                "rule": lookup(op) if op else None}
        if op is not None and len([x for x in out if x["graph"]]) < MAX_GRAPHS:
            item["graph"] = graphmod.neighbourhood(index[key[0]], key[1], tensors=tensors,
                                                   blocked=blocked_sets[key[0]], subgraph=key[0])
        out.append(item)
    return out


def _finding_groups(report: ModelReport) -> list[dict[str, Any]]:
    groups: dict[tuple, dict[str, Any]] = {}
    for f in report.findings:
        g = groups.setdefault((f.code, f.severity, f.op), {"f": f, "count": 0, "layers": set()})
        g["count"] += 1
        if f.layer:
            g["layers"].add(f.layer)
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(groups.values(), key=lambda g: (order.get(g["f"].severity, 3), -g["count"]))


def _page(template: str, heading: str, ctx: dict[str, Any]) -> str:
    css, js, csp = _assets()
    return _env().get_template(template).render(
        title=f"opaudit: {heading}", heading=heading, css=css, js=js, csp=csp,
        renderer=renderer_fingerprint(),
        data_json=json_for_html(ctx.pop("data", {})), **ctx)


def render_inspect_html(report: ModelReport, rule_lookup: RuleLookup | None = None) -> str:
    """The inspect report of one `.tflite` as one self-contained HTML page.

    `rule_lookup(op) -> rule names | None` names the rewrite rule that fixes a failing node;
    default: `rewrites.rules_for_tf_op` if importable, else every failing node says "no rule".
    """
    return _page("inspect.html.j2", report.path, inspect_context(report, rule_lookup))


def fix_context(fix: dict[str, Any]) -> dict[str, Any]:
    """Plain values for the fix templates; tolerant of missing keys in `fix`."""
    before = fix.get("op_histogram_before") or {}
    after = fix.get("op_histogram_after") or {}
    hist = [{"op": op, "before": before.get(op, 0), "after": after.get(op, 0),
             "delta": after.get(op, 0) - before.get(op, 0)} for op in set(before) | set(after)]
    hist.sort(key=lambda h: (h["delta"] == 0, -abs(h["delta"]), h["op"]))
    iterations = []
    for it in fix.get("iterations") or []:
        codes = Counter(str(f.get("code")) for f in it.get("findings") or [] if isinstance(f, dict))
        iterations.append({"it": it, "codes": sorted(codes.items())})
    done = [it for it in fix.get("iterations") or [] if it.get("size")]
    final = done[-1] if done else {}
    return {"fix": fix, "hist": hist, "iterations": iterations, "final": final,
            "fixed": fix.get("status") == "fixed", "parity": fix.get("parity") or {},
            "quant": quant_context(fix.get("quantization"))}


def quant_context(q: dict[str, Any] | None) -> dict[str, Any] | None:
    """Rows (`opaudit.quantize.summary.rows`) and one SVG bar chart geometry per variant."""
    if not q:
        return None
    from opaudit.quantize.summary import noise_chart, rows

    charts = {}
    for v in q.get("variants") or []:
        layers = noise_chart(v)
        top = max([60.0] + [min(x["snr_out_db"], 120.0) for x in layers])
        bars = [{"layer": x["layer"], "snr": x["snr_out_db"], "kept": x["kept_float"], "y": 4 + 16 * i,
                 "after": bool(x.get("after_selection")),
                 "w": round(max(1.0, 420 * max(0.0, min(x["snr_out_db"], 120.0)) / top), 1)} for i, x in enumerate(layers)]
        charts[v["mode"]] = {"bars": bars, "w": 760, "h": 8 + 16 * len(bars), "label_w": 260}
    return {"q": q, "rows": rows(q), "variants": q.get("variants") or [], "charts": charts}


def render_fix_html(fix: dict[str, Any], report: ModelReport | None = None,
                    rule_lookup: RuleLookup | None = None) -> str:
    """The `opaudit fix` report: `fix` is the fix.json dict (docs/fix-json.md), `report` the
    inspect of the final model (its sections follow the fix history when given)."""
    ctx = fix_context(fix)
    if (fix.get("parity") or {}).get("compare"):  # layer-wise compare after a parity failure
        from opaudit.render.compare_html import compare_context

        ctx.update(compare_context(fix["parity"]["compare"]))
    if report is not None:
        ctx.update(inspect_context(report, rule_lookup))
    else:
        ctx["data"] = {}
    src = (fix.get("model") or {}).get("source") or "model"
    return _page("fix.html.j2", f"fix {src}", ctx)
