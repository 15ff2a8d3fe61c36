"""Adapters: what the converter, the pre-audit and `inspect_model` report -> `Finding` objects.

Every finding the fix loop acts on carries the TF op type that picks rules in
``detail["tf_op"]`` (``CropAndResize``; None for layer-level findings such as ``OP_EXPLOSION``)
and, for flatbuffer nodes, the node name in ``detail["node"]``. ``layer`` is a real layer path of
the Keras model (`layer_paths.resolve_layer`).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from opaudit.findings import TARGETS, Code, Finding
from opaudit.fix.layer_paths import resolve_layer
from opaudit.fix.result import Conversion
from opaudit.names import tf_op_type

# Speed hints: info findings a speed rule answers (the model runs either way).
SPEED_CODES = {Code.FULL_WINDOW_CONV}
# Warnings and speed hints a rule may answer; the loop plans them when a fresh rule exists
# (parity decides otherwise).
OPTIONAL_CODES = {Code.NMS_PADDED_OUTPUT, Code.OP_EXPLOSION} | SPEED_CODES
# Per-node delegate findings: counted per iteration, not listed (hundreds on a detector).
OTHER_TARGET_CODES = {Code.XNNPACK_UNSUPPORTED, Code.GPU_UNSUPPORTED}


def from_conversion(conv: Conversion, what: str) -> list[Finding]:
    """Findings for a conversion that did not give a model (``status`` error | timeout | crashed | failed).

    ``what`` names what was being converted (model and plan), for the message.
    """
    if conv.status == "timeout":
        return [Finding(code=Code.CONVERTER_TIMEOUT, severity="error", targets=TARGETS,
                        message=f"conversion of {what} did not finish in {conv.seconds} s "
                                f"(last stage: {conv.stage})",
                        detail={"stage": conv.stage, "seconds": conv.seconds})]
    if conv.status in ("crashed", "failed"):
        return [Finding(code=Code.CONVERTER_ERROR, severity="error", targets=TARGETS,
                        message=f"conversion of {what} {conv.status}: {conv.error}", error=conv.error,
                        detail={"signal": conv.signal, "stage": conv.stage})]
    return [_converter_error(e) for e in conv.errors]


def _converter_error(e: dict[str, Any]) -> Finding:
    tensor_list = (e.get("tf_op") or "").startswith("TensorList")
    where = f" in layer {e['layer']}" if e.get("layer") else ""
    return Finding(code=Code.TENSOR_LIST_OPS if tensor_list else Code.CONVERTER_ERROR, severity="error",
                   op=e.get("op"), layer=e.get("layer"), targets=TARGETS, error=e.get("message"),
                   message=f"converter refused {e.get('op') or 'the model'}{where} ({e.get('code')})",
                   detail={"tf_op": e.get("tf_op"), "converter_code": e.get("code"),
                           "location": e.get("location")})


def from_preaudit(items: list[dict[str, Any]]) -> list[Finding]:
    """The worker's pre-audit items (`preaudit.scan_graph` / `scan_layers`) as findings."""
    return [Finding(code=i["code"], severity=i.get("severity", "error"), message=i["message"],
                    op=i.get("op"), layer=i.get("layer"),
                    targets=TARGETS if i.get("severity", "error") == "error" else (),
                    detail={**i.get("detail", {}), "tf_op": i.get("tf_op")}) for i in items]


def from_report(report, paths: set[str]) -> list[Finding]:
    """`ModelReport.findings` with ``layer`` resolved against the model's layer ``paths`` and
    ``detail`` completed with ``tf_op`` and ``node``."""
    ops = {(o.subgraph, o.index): o for o in report.operators}
    out = []
    for f in report.findings:
        op = ops.get((f.subgraph, f.index))
        name = f.detail.get("tf_name") or (op and (op.tf_name or op.node_name))
        layer = resolve_layer(name, paths) if name else None
        if not layer:
            layer = f.layer or (op.layer if op else None)
            if layer and layer not in paths:
                layer = resolve_layer(layer + "/x", paths) or layer
        tf_op = f.detail.get("tf_op") or (op.tf_op if op else None) or tf_op_type(f.op)
        detail = {**f.detail, "tf_op": tf_op, "node": op.node_name if op else None}
        out.append(dataclasses.replace(f, layer=layer, detail=detail))
    return out


def histogram(operators) -> dict[str, int]:
    """Op name -> node count, most frequent first."""
    return dict(sorted(Counter(o.op for o in operators).items(), key=lambda kv: (-kv[1], kv[0])))


def histogram_delta(before: dict[str, int] | None, after: dict[str, int]) -> dict[str, int]:
    """Per-op count change ``after - before`` (non-zero only), like a rewriter's per-pass diff."""
    before = before or {}
    return {op: after.get(op, 0) - before.get(op, 0) for op in sorted(set(before) | set(after))
            if after.get(op, 0) != before.get(op, 0)}


def non_builtin(operators) -> list[dict[str, Any]]:
    """Custom and Flex nodes: ``[{"op", "kind", "layer", "subgraph", "index"}]``."""
    return [{"op": o.op, "kind": o.kind, "layer": o.layer, "subgraph": o.subgraph, "index": o.index}
            for o in operators if o.kind != "builtin"]


def actionable(findings: list[Finding], target: str = "cpu") -> list[Finding]:
    """Findings the loop acts on: errors blocking ``target`` plus warnings and hints a rule may answer."""
    return [f for f in findings if f.blocks(target) or f.code in OPTIONAL_CODES]


def progress_key(findings: list[Finding]) -> frozenset:
    """What makes two iterations' findings "the same" (the no-progress guard)."""
    return frozenset((f.code, f.op, f.layer) for f in findings if f.severity == "error")
