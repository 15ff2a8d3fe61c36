"""Rich terminal view of a `Profile`: whole-model settings, trust, time per op type with GFLOP/s
against the nominal peak, and the hot spots with their Keras layers."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from opaudit.profile.result import Profile
from opaudit.render.terminal import _short


def _dur(s: float | None) -> str:
    """Seconds with a unit that keeps 3 significant digits: 38.2 µs, 1.23 ms, 0.847 s."""
    if s is None:
        return "—"
    if s < 1e-3:
        return f"{s * 1e6:.3g} µs"
    return f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.3g} s"


def _rate(r: float | None) -> str:
    return "—" if r is None else f"{r:.1f}"


def render(prof: Profile, console: Console | None = None, top: int = 15) -> None:
    """Print the profile; model-derived strings (op, layer names) are made inert."""
    c = console or Console(highlight=False)
    c.print(f"[bold]{_short(prof.path)}[/]  {prof.runtime}, per-node timings at {prof.threads} thread(s), "
            f"median of {prof.runs} invoke(s)")
    t = Table(title="Whole model (median seconds per invoke)", title_justify="left")
    for col in ("threads", "mode", "median", "XNNPACK partitions"):
        t.add_column(col, justify="right" if col != "mode" else "left")
    for w in prof.whole:
        t.add_row(str(w.threads), w.mode, _dur(w.median_s), str(w.delegate_partitions))
    c.print(t)
    r = prof.recommended
    if r:
        gain = f" ({r['speedup_over_default']:.2f}× the runtime default of 1 thread)" if r.get("speedup_over_default") else ""
        c.print(f"fastest: num_threads={r['num_threads']}, XNNPACK {'on' if r['xnnpack'] else 'off'}: "
                f"{_dur(r['median_s'])}{gain}")
    for tr in prof.trust:
        ratio = "—" if tr.ratio is None else f"{tr.ratio:.2f}"
        c.print(f"trust ({tr.mode}): node sum {_dur(tr.node_sum_s)} / whole model {_dur(tr.whole_s)} = {ratio}; "
                f"{tr.exact_nodes}/{tr.compared_nodes} nodes reproduce their in-model outputs exactly; "
                f"{tr.untimed_nodes} not timed")
    if prof.nested_nodes:
        c.print(f"[dim]{prof.nested_nodes} node(s) in called subgraphs are timed inside their WHILE/IF node[/]")
    _groups(c, prof, top)
    _hotspots(c, prof, top)


def _groups(c: Console, prof: Profile, top: int) -> None:
    ceil = "—" if prof.ceiling_gflops is None else f"{prof.ceiling_gflops:.0f}"
    c.print(f"peak {prof.peak_gflops:.0f} GFLOP/s ({_short(prof.peak_how)}); measured ceiling {ceil} GFLOP/s "
            f"(large FULLY_CONNECTED, {prof.primary}, {prof.threads} thread(s))")
    t = Table(title=f"Per op type (share of {prof.primary} node time)", title_justify="left")
    t.add_column("op")
    for col in ("nodes", *prof.modes, "share", "GFLOP", "GFLOP/s", "of peak", "of ceiling"):
        t.add_column(col, justify="right")
    for g in prof.op_types[:top]:
        t.add_row(_short(g.name, 32), str(g.nodes), *(_dur(g.seconds.get(m)) for m in prof.modes),
                  f"{g.share:.1%}", f"{g.flops / 1e9:.2f}" if g.flops else "—", _rate(g.gflops_per_s),
                  "—" if g.over_peak is None else f"{g.over_peak:.2f}",
                  "—" if g.over_ceiling is None else f"{g.over_ceiling:.2f}")
    c.print(t)
    c.print(f"total {prof.total_flops / 1e9:.2f} GFLOP with run-time shapes"
            + (f" ({prof.static_flops / 1e9:.2f} from the file's static shapes)" if prof.static_flops is not None else ""))


def _hotspots(c: Console, prof: Profile, top: int) -> None:
    t = Table(title=f"Hot spots (top {top} nodes, {prof.primary})", title_justify="left")
    for col in ("node", "op", "layer", "time", "GFLOP", "GFLOP/s", "XNNPACK"):
        t.add_column(col, justify="left" if col in ("op", "layer") else "right")
    for n in prof.hotspots[:top]:
        s = n.seconds.get(prof.primary)
        rate = n.flops / s / 1e9 if n.flops and s else None
        t.add_row(str(n.index), _short(n.op, 30), _short(n.layer or "—", 50), _dur(s),
                  f"{n.flops / 1e9:.3f}" if n.flops else "—", _rate(rate),
                  "—" if n.delegated is None else ("yes" if n.delegated else "no"))
    c.print(t)
    errors = [n for n in prof.nodes if n.error]
    if errors:
        c.print(f"[yellow]{len(errors)} node(s) could not be timed alone[/], e.g. node {errors[0].index} "
                f"{_short(errors[0].op, 30)}: {_short(errors[0].error, 200)}")
