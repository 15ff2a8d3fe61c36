"""Per-node status, and the same status as a Model Explorer node-data overlay.

Model Explorer (google-ai-edge/model-explorer) loads "per-node data" JSON next to a graph and
colours each node. Its format (server package `node_data_builder.py`):

- one graph: `{"results": {node_key: {"value": number, "bgColor"?: css, "textColor"?: css}},
  "thresholds"?: [{"value": v, "bgColor": css, "textColor"?: css}], "gradient"?: [...]}`
  (a node takes the colour of the first threshold whose value is >= its value);
- a model with several graphs: `{graph_id: <one-graph object>, ...}`.

Its built-in TFLite flatbuffer adapter names the graph of subgraph `i` after the subgraph's
name, else the signature key of that subgraph, else `main` (i = 0) / `subgraph_<i>`; op nodes
get the id `str(operator index)` inside that subgraph (extra GraphInputs / GraphOutputs /
pseudo_const nodes get ids after the last operator). We always write the several-graphs form.
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
    sig_keys: dict[int, str] = {}
    for sig in report.signatures or ():
        sg = sig.get("subgraph_index", sig.get("subgraph"))
        key = sig.get("key", sig.get("signature_key"))
        if isinstance(sg, int) and key and sg not in sig_keys:
            sig_keys[sg] = str(key)
    indices = {s.index for s in report.subgraphs} | {op.subgraph for op in report.operators}
    names = {s.index: s.name for s in report.subgraphs}
    out = {}
    for i in sorted(indices):
        out[i] = names.get(i) or sig_keys.get(i) or ("main" if i == 0 else f"subgraph_{i}")
    return out


def model_explorer_overlay(report: ModelReport) -> dict[str, Any]:
    """Model Explorer node-data JSON (several-graphs form): graph id -> {results, thresholds}.

    value 0 = runs, 1 = warning (blocked on a delegate only, or a warning), 2 = blocked on
    `report.target`. Save with `json.dump` and load it with "Add per-node data" in Model Explorer.
    """
    status = node_status(report)
    ids = graph_ids(report)
    thresholds = [{"value": v, "bgColor": STATUS_COLOR[s]} for s, v in STATUS_VALUE.items()]
    out: dict[str, Any] = {}
    for (sg, idx), s in sorted(status.items()):
        gid = ids.get(sg) or f"subgraph_{sg}"
        graph = out.setdefault(gid, {"results": {}, "thresholds": thresholds})
        graph["results"][str(idx)] = {"value": STATUS_VALUE[s], "bgColor": STATUS_COLOR[s]}
    return out
