"""Per-node error of `opaudit compare` as a Model Explorer node-data overlay.

Format: the ``ai-edge-model-explorer`` package's node-data classes (`model_explorer.
node_data_builder`: ``ModelNodeData`` -> ``{graph_id: GraphNodeData}``; ``GraphNodeData`` =
``{"results": {key: {"value"}}, "gradient": [{"stop", "bgColor"}], "name"}``), checked in the
tests by building those classes from this output. Keys are output *tensor names*: Model
Explorer matches a result key against each node's ``tensor_name`` output attribute. Node ids
would not do: measured with ai-edge-model-explorer 0.1.34, its built-in TFLite adapter (MLIR)
numbers ``pseudo_const`` nodes among the operators, so ids are not operator indices, and it
calls the main graph ``main`` even when the SignatureDef key is ``serve``.

Value of a node: ``log10`` of the isolated max relative error of the Keras layer it belongs to
(``-12`` for an exact layer, so the gradient spans the interesting range), or the propagated
error when no isolated one exists.
"""

from __future__ import annotations

import math
from typing import Any

FLOOR = -12.0
GRADIENT = [{"stop": 0.0, "bgColor": "#cfe8d4"}, {"stop": 0.6, "bgColor": "#fbe3b0"},
            {"stop": 1.0, "bgColor": "#e8776d"}]
MAIN_GRAPH = "main"


def log_error(rel: float | None) -> float:
    """``log10(rel)`` clipped below at `FLOOR`; None -> `FLOOR`."""
    if rel is None or rel <= 0 or not math.isfinite(rel):
        return FLOOR if rel is None or rel <= 0 else 0.0
    return max(FLOOR, math.log10(rel))


def node_errors(compare: dict[str, Any]) -> dict[int, tuple[str, float | None]]:
    """Operator index (subgraph 0) -> (layer, max relative error) from a compare dict
    (`CompareReport.to_dict()`); isolated error first, else propagated."""
    out: dict[int, tuple[str, float | None]] = {}
    for c in compare.get("layers") or []:
        m = c.get("isolated") or c.get("propagated")
        rel = m.get("max_rel") if m else None
        for node in c.get("tflite_nodes") or []:
            idx = int(str(node).split(":", 1)[0])
            if idx not in out or (rel or 0) > (out[idx][1] or 0):
                out[idx] = (c["layer"], rel)
    return out


def compare_overlay(compare: dict[str, Any], operators, tensor_names: dict[int, str]) -> dict[str, Any]:
    """Model Explorer node data: ``{"main": {"name", "results": {tensor name: {"value"}}, "gradient"}}``.

    ``operators``: `opaudit.findings.Operator` list of the `.tflite`; ``tensor_names``: subgraph-0
    tensor index -> name.
    """
    errors = node_errors(compare)
    results: dict[str, Any] = {}
    for op in operators:
        if op.subgraph != 0 or op.index not in errors or not op.outputs:
            continue
        name = tensor_names.get(op.outputs[0])
        if name:
            results[name] = {"value": round(log_error(errors[op.index][1]), 3)}
    return {MAIN_GRAPH: {"name": "opaudit compare: log10 max relative error", "results": results,
                         "gradient": GRADIENT}}
