"""Find known conversion blockers in seconds, before the first (slow) conversion.

Runs in the worker: traces the pinned model's TF graph (one concrete function, including the
function library used by ``tf.map_fn`` / ``tf.while_loop`` bodies), scans op types and names,
maps each op to its Keras layer, and checks layer types that explode when converted
(Keras 3 unrolls ``TimeDistributed`` into one node per time step).

Known blockers (TF op type -> finding code):
* ``CropAndResize``, ``DenseToDenseSetOperation``, ``DenseToSparseSetOperation``,
  ``EagerPyFunc``/``PyFunc``: CONVERTER_ERROR (need Flex / cannot run);
* ``TensorListReserve``/``EmptyTensorList`` with a not fully known element shape
  (dynamic ``tf.map_fn`` without a full ``fn_output_signature``): TENSOR_LIST_OPS;
* ``NonMaxSuppressionV3``/``V2``: NMS_PADDED_OUTPUT (TFLite pads to ``max_output_size``
  and drops the valid count);
* any other op a rule names in its ``tf_ops``: CONVERTER_ERROR, severity info (reported only).
"""

from __future__ import annotations

from typing import Any

from opaudit.fix.converter import is_tf_keras
from opaudit.fix.layer_paths import resolve_layer

BLOCKERS = {
    "CropAndResize": ("CONVERTER_ERROR", "needs Flex op CropAndResize (builtins only fail)"),
    "DenseToDenseSetOperation": ("CONVERTER_ERROR", "tf.sets.* needs Flex DenseToDenseSetOperation"),
    "DenseToSparseSetOperation": ("CONVERTER_ERROR", "tf.sets.* needs Flex DenseToSparseSetOperation"),
    "EagerPyFunc": ("CONVERTER_ERROR", "tf.py_function cannot be converted"),
    "PyFunc": ("CONVERTER_ERROR", "tf.numpy_function cannot be converted"),
    "NonMaxSuppressionV3": ("NMS_PADDED_OUTPUT", "converts to NON_MAX_SUPPRESSION_V4: output padded "
                            "to max_output_size, valid count dropped"),
    "NonMaxSuppressionV2": ("NMS_PADDED_OUTPUT", "converts to NON_MAX_SUPPRESSION_V4: output padded "
                            "to max_output_size, valid count dropped"),
}
TENSOR_LIST = {"TensorListReserve", "EmptyTensorList"}
EXPLOSION_MIN_STEPS = 4


def _const_shape_known(node, consts) -> bool:
    src = consts.get(node.input[0].split(":")[0].lstrip("^")) if node.input else None
    if src is None:
        return False
    import tensorflow as tf

    value = tf.make_ndarray(src.attr["value"].tensor)
    return value.ndim == 1 and bool((value >= 0).all())


def _callers(graph_def) -> dict[str, str]:
    """Function name -> name of the node (or enclosing function's caller) that calls it."""
    calls: dict[str, str] = {}

    def scan(nodes, owner: str | None):
        for n in nodes:
            for attr in n.attr.values():
                names = [attr.func.name] if attr.HasField("func") else [f.name for f in attr.list.func]
                for fname in names:
                    if fname and fname not in calls:
                        calls[fname] = owner or n.name
    scan(graph_def.node, None)
    for _ in range(4):  # nested bodies (map_fn inside a while body ...)
        for f in graph_def.library.function:
            scan(f.node_def, calls.get(f.signature.name))
    return calls


def scan_graph(graph_def, paths: set[str], tf_op_rules) -> list[dict[str, Any]]:
    """Findings for blocker ops in a GraphDef (main graph + library). ``tf_op_rules(op)`` -> names."""
    callers = _callers(graph_def)
    groups = [(None, graph_def.node)] + [(f.signature.name, f.node_def) for f in graph_def.library.function]
    found: dict[tuple, dict[str, Any]] = {}
    for fname, nodes in groups:
        consts = {n.name: n for n in nodes if n.op == "Const"}
        owner = callers.get(fname) if fname else None
        for n in nodes:
            code, why, severity = None, "", "error"
            if n.op in BLOCKERS:
                code, why = BLOCKERS[n.op]
            elif n.op in TENSOR_LIST and not _const_shape_known(n, consts):
                code, why = "TENSOR_LIST_OPS", "dynamic tf.map_fn/TensorArray with unknown element shape"
            elif tf_op_rules(n.op):
                code, why, severity = "CONVERTER_ERROR", "a rule names this op (not a known blocker)", "info"
            if not code:
                continue
            layer = resolve_layer(n.name, paths) or (resolve_layer(owner, paths) if owner else None)
            key = (code, n.op, layer)
            if key not in found:
                found[key] = {"code": code, "severity": severity, "tf_op": n.op, "op": n.op,
                              "layer": layer, "message": f"{n.op} at layer {layer}: {why}",
                              "detail": {"node": n.name, "function": fname, "count": 0}}
            found[key]["detail"]["count"] += 1
    return list(found.values())


def scan_layers(layers: dict[str, Any], layer_rules) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """OP_EXPLOSION findings for TimeDistributed layers over >= EXPLOSION_MIN_STEPS steps, and the
    layer-type rules table ``{path: [rule names]}`` (``layer_rules(layer)`` -> names)."""
    findings, table = [], {}
    for path, layer in layers.items():
        names = layer_rules(layer)
        if names:
            table[path] = names
        if type(layer).__name__ != "TimeDistributed" or is_tf_keras(layer):
            continue  # tf_keras folds the steps into the batch (RESHAPE -> op -> RESHAPE): no unroll
        try:
            steps = layer.input.shape[1]
        except Exception:  # noqa: BLE001 - layer not called / multiple inbound nodes
            steps = None
        if steps is None or steps >= EXPLOSION_MIN_STEPS:
            inner = type(layer.layer).__name__
            findings.append({"code": "OP_EXPLOSION", "severity": "warning", "tf_op": None, "op": inner,
                             "layer": path, "message": f"Keras 3 unrolls TimeDistributed({inner}) into one "
                             f"node per step ({steps} steps): slow conversion, large graph",
                             "detail": {"steps": steps, "inner": inner}})
    return findings, table


def run(model, sig: list[dict[str, Any]], paths: dict[str, Any], rw) -> dict[str, Any]:
    """Trace ``model(training=False)`` with the pinned ``sig`` (the function the converter exports)
    and scan it. ``paths``: layer path -> layer; ``rw`` is the rewrites module or None."""
    import tensorflow as tf

    from opaudit.fix.converter import call_specs, inference_fn

    fn = tf.function(inference_fn(model))
    graph_def = fn.get_concrete_function(*call_specs(sig)).graph.as_graph_def()
    op_rules = (lambda op: [r.name for r in rw.rules_for_tf_op(op)]) if rw else (lambda op: [])
    lay_rules = (lambda layer: [r.name for r in rw.rules_for_layer(layer)]) if rw else (lambda layer: [])
    findings = scan_graph(graph_def, set(paths), op_rules)
    layer_findings, table = scan_layers(paths, lay_rules)
    ops: dict[str, int] = {}
    for n in list(graph_def.node) + [n for f in graph_def.library.function for n in f.node_def]:
        ops[n.op] = ops.get(n.op, 0) + 1
    return {"findings": findings + layer_findings, "layer_rules": table, "tf_ops": ops}
