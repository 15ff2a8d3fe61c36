"""Views of a zoo audit (`opaudit inspect DIR --jobs N`): summary table, CSV, JSON Lines, progress.

Rows are the flat summaries of `opaudit.zoo.summarize` (columns `zoo.SUMMARY_FIELDS`). Model
names are escaped like every other model-derived string in the terminal.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from opaudit.render.terminal import _short
from opaudit.zoo import SUMMARY_FIELDS


def json_line(entry: dict[str, Any]) -> str:
    """One JSON Lines document: the model's inspect report plus `summary`, or the error entry."""
    doc = {**entry["report"], "summary": entry["summary"]} if "report" in entry else dict(entry)
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def csv_text(rows: Sequence[dict[str, Any]]) -> str:
    """The summary rows as CSV with a header (`SUMMARY_FIELDS`; missing cells empty)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SUMMARY_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in SUMMARY_FIELDS})
    return buf.getvalue()


def render_table(rows: Sequence[dict[str, Any]], target: str, console: Console | None = None) -> None:
    """One line per model, then totals per outcome."""
    c = console or Console(highlight=False)
    paths = [str(r.get("path")) for r in rows]
    base = os.path.commonpath([os.path.dirname(p) for p in paths]) if len(paths) > 1 else ""
    t = Table(title=f"{len(rows)} model(s), target {target}", title_justify="left", show_edge=False)
    for col in ("model", "nodes", "cpu", "xnnpack", "gpu", "exit", "errors"):
        t.add_column(col, justify="right" if col in ("nodes", "exit") else "left")
    for r in rows:
        t.add_row(_short(os.path.relpath(str(r.get("path")), base) if base else r.get("path"), 70), str(r.get("nodes", "-")), _cell(r, "cpu"), _cell(r, "xnnpack"),
                  _cell(r, "gpu"), str(r.get("exit_code")), _short(str(r.get("errors") or ""), 60))
    c.print(t)
    if base:
        c.print(f"[dim]paths relative to {_short(base)}[/]")
    outcome = {0: "clean", 1: f"blocked on {target}", 2: "not audited"}
    totals = {}
    for r in rows:
        totals[outcome.get(r.get("exit_code"), "?")] = totals.get(outcome.get(r.get("exit_code"), "?"), 0) + 1
    c.print("  ".join(f"{k}: {n}" for k, n in totals.items()))


def _cell(r: dict[str, Any], t: str) -> str:
    if r.get("status") != "audited":
        return f"[red]{r.get('status')}[/]"
    text = "[green]runs[/]" if r.get(t) == "runs" else f"[red]blocked[/] ({r.get(f'{t}_blocked_nodes')})"
    if r.get(f"{t}_verdict"):
        share = r.get(f"{t}_node_share") or 0
        text += f" {r[f'{t}_verdict']} {share:.0%}/{r.get(f'{t}_partitions')}p"
    return text


@contextmanager
def progress(total: int, done: int) -> Iterator[Callable[[], None]]:
    """A rich progress bar on stderr (only drawn on a terminal); yields `advance()`."""
    bar = Progress(TextColumn("auditing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=Console(file=sys.stderr), transient=True, disable=not sys.stderr.isatty())
    with bar:
        task = bar.add_task("models", total=total, completed=done)
        yield lambda: bar.advance(task)
