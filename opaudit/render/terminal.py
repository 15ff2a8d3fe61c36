"""Rich terminal view of a `ModelReport`: summary, op histogram with support marks, the nodes
that cannot run (highlighted with their Keras layer), and warnings."""

from __future__ import annotations

import re
from collections import Counter

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from opaudit.findings import TARGETS, ModelReport

_MARK = {"yes": "[green]✓[/]", "no": "[red]✗[/]", "partial": "[yellow]~[/]", "unknown": "[dim]?[/]"}
_MAX_NAME = 120
_MAX_WARNINGS = 12
# C0/C1 control characters and bidi overrides from the model must never reach the terminal
# (an ESC or CSI byte in a tensor name could recolour, retitle or clear the user's terminal).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(m: re.Match) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def _short(s: str | None, n: int = _MAX_NAME) -> str:
    """Model-derived text made inert: control characters shown as escapes, rich markup escaped, cut at n."""
    s = _CONTROL.sub(_visible, s or "")
    return escape(s if len(s) <= n else s[: n - 1] + "…")


def render(report: ModelReport, console: Console | None = None) -> None:
    """Print the report. Every model-derived string is escaped (rich markup is not interpreted)."""
    c = console or Console(highlight=False)
    c.print(f"[bold]{_short(report.path)}[/]  {report.size / 1e6:.1f} MB, {len(report.subgraphs)} subgraph(s), "
            f"{len(report.operators)} nodes, schema v{report.version}")
    for target, p in report.runtime_probes.items() or ({"cpu": report.probe}.items() if report.probe else ()):
        c.print(f"probe {target} ({_short(p.runtime)}, {p.resolver} resolver): "
                f"[{'green' if p.status == 'ok' else 'red'}]{p.status}[/]"
                f"{' at ' + p.stage if p.stage else ''} in {p.seconds:.2f} s"
                + (f" [dim]({_short(p.note, 200)})[/]" if p.note else ""))
    _verdict_line(c, report)
    _op_table(c, report)
    _delegation_table(c, report)
    blocking = report.blocking()
    if blocking:
        _blocking_table(c, report, blocking)
    warnings = [f for f in report.findings if f not in blocking and f.severity != "info"]
    for f in warnings[:_MAX_WARNINGS]:
        c.print(f"[yellow]warning[/] {f.code}: {_short(f.message, 400)}")
    if len(warnings) > _MAX_WARNINGS:
        rest = Counter(f.code for f in warnings[_MAX_WARNINGS:])
        c.print(f"[yellow]… {len(warnings) - _MAX_WARNINGS} more warnings[/] ("
                + ", ".join(f"{k} ×{n}" for k, n in rest.most_common()) + "): see --json or --html")
    if not blocking:
        c.print(f"[green]nothing stops this model on {report.target}[/]")


def _verdict_line(c: Console, report: ModelReport) -> None:
    """Per target runs/blocked with the number of blocked nodes (`ModelReport.counts`)."""
    v, counts, src = report.verdicts(), report.counts(), report.verdict_sources()
    parts = []
    for t in TARGETS:
        n = counts[t]["blocked_nodes"]
        parts.append(f"{t}: " + ("[green]runs[/]" if v[t] == "runs" else f"[red]blocked[/] ({n} node{'s' * (n != 1)})")
                     + f" [dim]{src[t]}[/]")
    c.print("verdict: " + "  ".join(parts) + f"  flex: {'[red]needed[/]' if v['needs_flex'] == 'yes' else 'no'}")


def _op_table(c: Console, report: ModelReport) -> None:
    counts = Counter(o.op for o in report.operators)
    kinds = {o.op: o.kind for o in report.operators}
    t = Table(title="ops", title_justify="left", show_edge=False)
    for col in ("op", "kind", "count", *TARGETS):
        t.add_column(col, justify="right" if col == "count" else "left")
    for op, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        sup = report.support.get(op, {})
        t.add_row(_short(op, 48), kinds[op], str(n),
                  *(_MARK.get(sup[x].status, "?") if x in sup else "?" for x in TARGETS))
    c.print(t)


def _delegation_table(c: Console, report: ModelReport) -> None:
    """Per delegate: verdict, measured/predicted, partitions, coverage, splitters, what-if."""
    if not report.delegation:
        return
    t = Table(title="delegates", title_justify="left", show_edge=False)
    for col in ("delegate", "verdict", "source", "partitions", "nodes", "FLOPs", "split by"):
        t.add_column(col)
    ops = {(o.subgraph, o.index): o.op for o in report.operators}
    for name, d in report.delegation.items():
        split = ", ".join(f"{k[1]} {_short(ops.get(k), 24)}" for k in d.splitters[:4])
        split += f" +{len(d.splitters) - 4}" if len(d.splitters) > 4 else ""
        colour = {"yes": "green", "maybe": "yellow", "no": "red"}[d.verdict]
        t.add_row(name, f"[{colour}]{d.verdict}[/]", d.source, str(len(d.partitions)),
                  f"{d.delegated_count}/{len(d.nodes)} ({d.node_share:.0%})", f"{d.flop_share:.0%}", split or "-")
    c.print(t)
    for name, d in report.delegation.items():
        if d.if_static:
            w = d.if_static
            c.print(f"[dim]{name} with every dynamic dim fixed: {w['verdict']}, {w['partitions']} partition(s), "
                    f"{w['node_share']:.0%} of nodes, {w['flop_share']:.0%} of FLOPs[/]")
    c.print(f"[dim]verdict rule: {next(iter(report.delegation.values())).rule}[/]")


def _blocking_table(c: Console, report: ModelReport, blocking) -> None:
    n = len(report.blocked_nodes())
    b = Table(title=f"cannot run on {report.target} ({n} node{'s' * (n != 1)}, {len(blocking)} finding(s))",
              title_justify="left", title_style="bold red", show_edge=False)
    for col in ("node", "op", "layer", "why"):
        b.add_column(col)
    for f in blocking:
        nodes = f.nodes()
        node = (f"{f.subgraph}:{f.index}" if len(nodes) <= 1 else f"{len(nodes)} nodes") if nodes else "-"
        why = _short(f.message, 400) + (f"\n[dim]runtime: {_short(f.error, 300)}[/]" if f.error else "")
        layer = f"[bold yellow]{_short(f.layer, 60)}[/]" if f.layer else "[dim]unknown[/]"
        b.add_row(node, _short(f.op, 48), layer, why)
    c.print(b)
