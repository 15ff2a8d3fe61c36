"""The `opaudit compare` section: per-layer table with a heat column, an inline SVG sparkline of
the error along the graph, the first divergent layer highlighted (pure; reads the compare dict).

`compare_context(compare)` gives the plain values `_compare_body.html.j2` needs (also used by
the fix report when parity ran a layer-wise compare); `render_compare_html(compare)` is the
standalone page. Strings from the model reach the page through Jinja2 autoescape only.
"""

from __future__ import annotations

from typing import Any

from opaudit.render.compare_overlay import FLOOR, log_error

SPARK_W, SPARK_H, SPARK_PAD = 720, 90, 6
HEAT_STEPS = 6  # heat-0 (exact) .. heat-5 (>= 1e-1 relative)


def heat(rel: float | None) -> int:
    """Heat class 0..5 of a relative error: <1e-7, <1e-6, <1e-5, <1e-4 (the bar), <1e-1, else 5."""
    if rel is None:
        return 0
    for step, edge in enumerate((1e-7, 1e-6, 1e-5, 1e-4, 1e-1)):
        if rel < edge:
            return step
    return HEAT_STEPS - 1


def _y(rel: float | None) -> float:
    """Sparkline y of an error: log10 scale from FLOOR (bottom) to 0 (top)."""
    v = log_error(rel)
    return round(SPARK_PAD + (SPARK_H - 2 * SPARK_PAD) * (v / FLOOR), 1)


def sparkline(layers: list[dict[str, Any]], bar: float) -> dict[str, Any]:
    """SVG geometry: ``propagated``/``isolated`` polyline points, the bar's y, the first divergent
    layer's x (or None), along the compared layers in execution order."""
    shown = [c for c in layers if c.get("propagated") or c.get("isolated")]
    n = max(len(shown) - 1, 1)
    xs = [round(SPARK_PAD + (SPARK_W - 2 * SPARK_PAD) * i / n, 1) for i in range(len(shown))]

    def line(key: str) -> str:
        return " ".join(f"{x},{_y((c.get(key) or {}).get('max_rel'))}" for x, c in zip(xs, shown) if c.get(key))

    mark = next((x for x, c in zip(xs, shown) if c.get("status") == "divergent"), None)
    return {"w": SPARK_W, "h": SPARK_H, "propagated": line("propagated"), "isolated": line("isolated"),
            "bar_y": _y(bar), "mark_x": mark, "count": len(shown)}


def compare_context(compare: dict[str, Any]) -> dict[str, Any]:
    """Plain values for `_compare_body.html.j2` (``cmp`` is the compare dict itself)."""
    first = (compare.get("first_divergent") or {}).get("layer")
    rows = []
    for c in compare.get("layers") or []:
        p, i = c.get("propagated") or {}, c.get("isolated") or {}
        worst = max([m for m in (p.get("max_rel"), i.get("max_rel")) if m is not None], default=None)
        rows.append({"c": c, "heat": None if worst is None else heat(worst), "first": c["layer"] == first,
                     "snr": None if p.get("snr_db") is None else p["snr_db"],
                     "rows": sum(len(r) for r in (c.get("rows") or {}).values())})
    state = {"equal": "ok", "ill-conditioned": "warn", "divergent": "bad"}.get(compare.get("verdict"), "warn")
    return {"cmp": compare, "cmp_rows": rows, "cmp_state": state,
            "spark": sparkline(compare.get("layers") or [], compare.get("bar") or 1e-4)}


def render_compare_html(compare: dict[str, Any]) -> str:
    """The standalone compare page (one self-contained HTML file)."""
    from opaudit.render.html import _page

    ctx = compare_context(compare)
    ctx["data"] = {}
    return _page("compare.html.j2", f"compare {compare.get('model') or ''}", ctx)
