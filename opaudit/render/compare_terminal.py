"""Terminal rendering of a compare dict (`CompareReport.to_dict()`), and a live progress line."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from rich.markup import escape

STATUS_STYLE = {"equal": "green", "differs": "yellow", "sensitive": "yellow", "divergent": "bold red",
                "no-tensor": "dim"}
VERDICT_STYLE = {"equal": "bold green", "ill-conditioned": "bold yellow", "divergent": "bold red"}


def _rel(m: dict | None) -> str:
    return "-" if not m else f"{m['max_rel']:.2g}"


def print_compare(cmp: dict[str, Any], console=None, all_layers: bool = False) -> None:
    """Verdict line, the culprit or the ill-conditioning account, then the layer table (layers
    with a tensor; ``all_layers`` adds the fused ones)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    style = VERDICT_STYLE.get(cmp["verdict"], "bold")
    console.print(f"[{style}]{cmp['verdict'].upper()}[/]: {escape(cmp.get('summary') or '')}", highlight=False)
    fd = cmp.get("first_divergent")
    if fd:
        rules = f" rule {', '.join(fd['rules'])}" if fd.get("rules") else ""
        console.print(f"  culprit: [bold]{escape(fd['layer'])}[/] ({escape(fd['class_name'])}){escape(rules)}; "
                      f"TFLite nodes {escape(' '.join(fd['tflite_nodes'][:8]))}", highlight=False)
    for e in cmp.get("explanations") or []:
        console.print(f"  starts at [bold]{escape(e['layer'])}[/]: {escape(e['why'])}", highlight=False)
        if e.get("mechanism"):
            console.print(f"  mechanism: {escape(e['mechanism'])}", highlight=False)
        if e.get("rows"):
            console.print("  rows: " + "; ".join(f"sample {s}: {r[:16]}" for s, r in e["rows"].items()), highlight=False)
    table = Table(show_lines=False, header_style="bold")
    for col in ("#", "layer", "status", "propagated", "isolated", "keras shift", "input", "rows"):
        table.add_column(col, justify="right" if col not in ("layer", "status") else "left")
    for c in cmp.get("layers") or []:
        if c["status"] == "no-tensor" and not all_layers:
            continue
        rows = sum(len(r) for r in (c.get("rows") or {}).values())
        table.add_row(str(c["order"]), escape(c["layer"]), f"[{STATUS_STYLE.get(c['status'], '')}]{c['status']}[/]",
                      _rel(c.get("propagated")), _rel(c.get("isolated")), _rel(c.get("keras_shift")),
                      "-" if c.get("input_rel") is None else f"{c['input_rel']:.2g}", str(rows or ""))
    console.print(table)
    for n in cmp.get("notes") or []:
        console.print(f"[dim]note: {escape(n)}[/]", highlight=False)


@contextlib.contextmanager
def progress_line(enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """A rich status line on stderr; yields ``say(text)`` (a no-op when disabled)."""
    if not enabled:
        yield lambda _text: None
        return
    from rich.console import Console

    with Console(stderr=True).status("compare: starting") as status:
        yield lambda text: status.update(f"compare: {escape(text)}")


def print_quant_noise(data: dict[str, Any], console=None, top: int = 25) -> None:
    """`opaudit compare --against`: the layers with the lowest output SNR, in graph order."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    layers = data.get("layers") or []
    worst = {id(x) for x in sorted(layers, key=lambda x: x["snr_out_db"])[:top]}
    t = Table(title=f"quantization noise of {data.get('quantized')} against {data.get('float')} "
                    f"({data.get('samples')}; {len(worst)} of {len(layers)} layers, lowest SNR)")
    for col in ("layer", "SNR in dB", "SNR out dB", "noise added", "low precision", "after selection"):
        t.add_column(col)
    for x in layers:
        if id(x) in worst:
            t.add_row(x["layer"], f"{x['snr_in_db']:.1f}", f"{x['snr_out_db']:.1f}", f"{x['added_noise']:.3g}",
                      "yes" if x["quantized"] else "", "yes" if x.get("after_selection") else "")
    console.print(t)
    console.print(f"{data.get('tensors')} tensors compared, {data.get('unmatched')} not matched by name/shape, "
                  f"{data.get('unreadable', 0)} unreadable", markup=False, highlight=False)
