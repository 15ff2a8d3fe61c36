"""Structured converter errors -> plain dicts mapped to Keras layers.

`tf.lite.TFLiteConverter.convert()` raises `ConverterError` whose ``errors`` list holds
`ConverterErrorData` protos: ``error_code`` (enum, e.g. ``ERROR_NEEDS_FLEX_OPS``),
``operator.name`` (``tf.CropAndResize``), ``location.call[].name`` (call-site chain, innermost
first: ``model_1/roi_pool_1/CropAndResize@__inference_...``) and ``error_message``.
"""

from __future__ import annotations

import re
from typing import Any

from opaudit.fix.layer_paths import resolve_location
from opaudit.names import tf_op_type

_TL = re.compile(r"TensorList|tensor list", re.I)


def error_code_name(err: Any) -> str:
    """Enum name of ``err.error_code`` ("UNKNOWN" when unset)."""
    code = getattr(err, "error_code", 0)
    try:
        field = err.DESCRIPTOR.fields_by_name["error_code"]
        return field.enum_type.values_by_number[code].name
    except Exception:  # noqa: BLE001 - proto layout differs between TF versions
        return str(code)


def parse_errors(exc: BaseException, layer_paths: set[str] | frozenset[str]) -> list[dict[str, Any]]:
    """Converter exception -> ``[{"code", "op", "tf_op", "location", "calls", "layer", "message"}]``.

    ``op`` is the MLIR op name (``tf.CropAndResize``), ``tf_op`` the TF op type without the
    dialect prefix (``CropAndResize``). Exceptions without structured errors give one entry
    with ``code`` ``"UNSTRUCTURED"`` and the first line of the message.
    """
    out: list[dict[str, Any]] = []
    seen: set[tuple] = set()
    for err in getattr(exc, "errors", None) or []:
        calls = [c.name for c in err.location.call] if err.HasField("location") else []
        op = err.operator.name if err.HasField("operator") else ""
        message = (err.error_message or "").split("\n", 1)[0]
        code = error_code_name(err)
        if _TL.search(message) and not op.startswith("tf.TensorList"):
            op = "tf.TensorListReserve"  # "Lowering tensor list ops is failed" (reported on tf.Const)
        item = {
            "code": code,
            "op": op or None,
            "tf_op": tf_op_type(op),
            "location": calls[0] if calls else None,
            "calls": calls,
            "layer": resolve_location(calls, layer_paths),
            "message": message,
        }
        key = (item["code"], item["op"], item["layer"], item["location"])
        if key not in seen:
            seen.add(key)
            out.append(item)
    if any(i["layer"] for i in out if (i["tf_op"] or "").startswith("TensorList")):
        # the generic lowering failure repeats a located TensorList error: keep the located one
        out = [i for i in out if i["layer"] or not (i["tf_op"] or "").startswith("TensorList")]
    if not out:
        text = str(exc).strip().splitlines()
        first = next((ln for ln in text if "error" in ln.lower()), text[0] if text else repr(exc))
        op = "tf.TensorListReserve" if _TL.search(str(exc)) else None
        out.append({"code": "UNSTRUCTURED", "op": op, "tf_op": tf_op_type(op), "location": None,
                    "calls": [], "layer": None, "message": first[:500]})
    return out
