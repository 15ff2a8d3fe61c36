"""Turn conversion outcomes and inspect reports into findings (JSON form of `opaudit.findings`).

Every finding dict here is ``to_jsonable(Finding)``; the TF op type used to pick rules is kept in
``detail["tf_op"]`` and the node name in ``detail["node"]``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from opaudit.findings import Code, Finding, to_jsonable  # noqa: F401 (re-exported)
from opaudit.fix.layers import resolve_layer

FLEX_CODES = {"ERROR_NEEDS_FLEX_OPS", "ERROR_NEEDS_CUSTOM_OPS"}


def _f(**kw) -> dict[str, Any]:
    return to_jsonable(Finding(**kw))


def from_conversion(conv: dict[str, Any], what: str) -> list[dict[str, Any]]:
    """Findings for a failed conversion (``conv["status"]`` error | timeout | crashed | failed)."""
    status = conv.get("status")
    if status == "timeout":
        return [_f(code=Code.CONVERTER_TIMEOUT, severity="error", targets=("cpu", "xnnpack", "gpu"),
                   message=f"conversion of {what} did not finish in {conv.get('seconds')} s "
                           f"(last stage: {conv.get('stage')})",
                   detail={"stage": conv.get("stage"), "seconds": conv.get("seconds")})]
    if status in ("crashed", "failed"):
        return [_f(code=Code.CONVERTER_ERROR, severity="error", targets=("cpu", "xnnpack", "gpu"),
                   message=f"conversion of {what} {status}: {conv.get('error')}",
                   error=conv.get("error"), detail={"signal": conv.get("signal"), "stage": conv.get("stage")})]
    out = []
    for e in conv.get("errors", []):
        tl = (e.get("tf_op") or "").startswith("TensorList")
        code = Code.TENSOR_LIST_OPS if tl else Code.CONVERTER_ERROR
        out.append(_f(code=code, severity="error", op=e.get("op"), layer=e.get("layer"),
                      targets=("cpu", "xnnpack", "gpu"),
                      message=f"converter refused {e.get('op') or 'the model'}"
                              f"{' in layer ' + e['layer'] if e.get('layer') else ''} ({e.get('code')})",
                      error=e.get("message"),
                      detail={"tf_op": e.get("tf_op"), "converter_code": e.get("code"),
                              "location": e.get("location")}))
    return out


def from_preaudit(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [_f(code=i["code"], severity=i.get("severity", "error"), message=i["message"], op=i.get("op"),
               layer=i.get("layer"), targets=("cpu", "xnnpack", "gpu") if i.get("severity") == "error" else (),
               detail={**i.get("detail", {}), "tf_op": i.get("tf_op")}) for i in items]


def from_report(report, paths: set[str]) -> list[dict[str, Any]]:
    """Inspect findings with ``layer`` normalized to a real layer path and ``detail.tf_op`` set."""
    ops = {(o.subgraph, o.index): o for o in report.operators}
    out = []
    for f in report.findings:
        d = to_jsonable(f)
        op = ops.get((f.subgraph, f.index))
        name = (f.detail or {}).get("tf_name") or (op and (op.tf_name or op.node_name))
        layer = resolve_layer(name, paths) if name else None
        if not layer:
            layer = f.layer or (op.layer if op else None)
            if layer and layer not in paths:
                layer = resolve_layer(layer + "/x", paths) or layer
        d["layer"] = layer
        tf_op = (f.detail or {}).get("tf_op") or (op.tf_op if op else None) or _tf_op_of(f.op)
        d["detail"] = {**d.get("detail", {}), "tf_op": tf_op,
                       "node": op.node_name if op else None}
        out.append(d)
    return out


def _tf_op_of(op: str | None) -> str | None:
    if not op:
        return None
    return op[4:] if op.startswith("Flex") else op


def histogram(report) -> dict[str, int]:
    return dict(sorted(Counter(o.op for o in report.operators).items(), key=lambda kv: (-kv[1], kv[0])))


def non_builtin(report) -> list[dict[str, Any]]:
    return [{"op": o.op, "kind": o.kind, "layer": o.layer, "subgraph": o.subgraph, "index": o.index}
            for o in report.operators if o.kind != "builtin"]


OPTIONAL_CODES = {"NMS_PADDED_OUTPUT", "OP_EXPLOSION"}


def actionable(findings: list[dict[str, Any]], target: str = "cpu") -> list[dict[str, Any]]:
    """Findings the loop acts on: errors blocking ``target`` plus warnings a rule may answer."""
    return [f for f in findings if (f["severity"] == "error" and target in f.get("targets", ()))
            or f["code"] in OPTIONAL_CODES]


def key_of(findings: list[dict[str, Any]]) -> frozenset:
    """What makes two iterations' findings "the same" (progress guard)."""
    return frozenset((f["code"], f.get("op"), f.get("layer")) for f in findings if f["severity"] == "error")
