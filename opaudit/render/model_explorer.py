"""Per-node status, and the same status as a Model Explorer node-data overlay.

Model Explorer (google-ai-edge/model-explorer) loads "per-node data" JSON next to a graph and
colours each node. Its format (server package `node_data_builder.py`):

- one graph: `{"results": {node_key: {"value": number, "bgColor"?: css, "textColor"?: css}},
  "thresholds"?: [{"value": v, "bgColor": css, "textColor"?: css}], "gradient"?: [...]}`
  (a node takes the colour of the first threshold whose value is >= its value);
- a model with several graphs: `{graph_id: <one-graph object>, ...}`.

Graph ids and node keys follow what Model Explorer's own TFLite adapter builds (measured with
ai-edge-model-explorer 0.1.34 on MediaPipe, basic-pitch and a converted WHILE model): subgraph 0
is always the graph `main` (whatever its flatbuffer name or signature key), subgraph `i > 0` is
named after the subgraph (`while_body`), else `subgraph_<i>`. Its node ids are not operator
indices (constant tensors become `pseudo_const` nodes numbered among the operators), so results
are keyed by each operator's first output *tensor name*, which Model Explorer matches against a
node's `tensor_name` output attribute; an operator whose output has no name is left out.
We always write the several-graphs form.
"""

from __future__ import annotations

from typing import Any

from opaudit.findings import Finding, ModelReport

# value -> meaning; node colours match the HTML report.
STATUS_VALUE = {"runs": 0, "warning": 1, "blocked": 2}
STATUS_COLOR = {"runs": "#cfe8d4", "warning": "#fbe3b0", "blocked": "#f6c1bd"}


def node_findings(report: ModelReport) -> dict[tuple[int, int], list[Finding]]:
    """(subgraph, operator index) -> findings attached to that node (a grouped finding, one
    for many nodes of one op, is attached to every node it names: `Finding.nodes()`)."""
    out: dict[tuple[int, int], list[Finding]] = {}
    for f in report.findings:
        for key in f.nodes():
            out.setdefault(key, []).append(f)
    return out


def node_status(report: ModelReport, found: dict[tuple[int, int], list[Finding]] | None = None
                ) -> dict[tuple[int, int], str]:
    """(subgraph, index) -> "blocked" (a finding stops it on `report.target`), "warning" (an
    error on another target, or a warning), or "runs"."""
    found = node_findings(report) if found is None else found
    out = {}
    for op in report.operators:
        fs = found.get((op.subgraph, op.index), ())
        if any(f.blocks(report.target) for f in fs):
            out[(op.subgraph, op.index)] = "blocked"
        elif any(f.severity in ("error", "warning") for f in fs):
            out[(op.subgraph, op.index)] = "warning"
        else:
            out[(op.subgraph, op.index)] = "runs"
    return out


def graph_ids(report: ModelReport) -> dict[int, str]:
    """Subgraph index -> the graph id Model Explorer's TFLite adapter gives it."""
    indices = {s.index for s in report.subgraphs} | {op.subgraph for op in report.operators}
    names = {s.index: s.name for s in report.subgraphs}
    return {i: "main" if i == 0 else (names.get(i) or f"subgraph_{i}") for i in sorted(indices)}


def node_keys(report: ModelReport, max_len: int | None = None) -> dict[tuple[int, int], str]:
    """(subgraph, index) -> the node's first output tensor name; operators without one, or
    with one longer than ``max_len`` characters, are omitted."""
    names = {(t.subgraph, t.index): t.name for t in report.tensors}
    out = {}
    for op in report.operators:
        name = names.get((op.subgraph, op.outputs[0])) if op.outputs else None
        if name and (max_len is None or len(name) <= max_len):
            out[(op.subgraph, op.index)] = name
    return out


def model_explorer_overlay(report: ModelReport, max_key_len: int | None = None) -> dict[str, Any]:
    """Model Explorer node-data JSON (several-graphs form): graph id -> {results, thresholds}.

    value 0 = runs, 1 = warning (blocked on a delegate only, or a warning), 2 = blocked on
    `report.target`. Save with `json.dump` and load it with "Add per-node data" in Model Explorer.
    ``max_key_len`` leaves out nodes whose tensor name is longer (the copy embedded in the HTML
    report does not carry pathological names; the `--model-explorer` file has every node).
    """
    status = node_status(report)
    ids, keys = graph_ids(report), node_keys(report, max_key_len)
    thresholds = [{"value": v, "bgColor": STATUS_COLOR[s]} for s, v in STATUS_VALUE.items()]
    out: dict[str, Any] = {}
    for (sg, idx), s in sorted(status.items()):
        if (sg, idx) not in keys:
            continue
        graph = out.setdefault(ids.get(sg) or f"subgraph_{sg}", {"results": {}, "thresholds": thresholds})
        graph["results"][keys[(sg, idx)]] = {"value": STATUS_VALUE[s], "bgColor": STATUS_COLOR[s]}
    return out
