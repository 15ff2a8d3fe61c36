"""Which dynamic tensors stay dynamic once the graph inputs get fixed shapes.

A tensor is dynamic in the file when its `shape_signature` has a -1. Most of them are dynamic
only because an input is (the batch of a model exported with `None` batch): once the runtime
resizes that input to a fixed shape before allocating (what `--input-shape` does, and what an
app does before it applies the GPU delegate), shape propagation makes them static. Some stay
dynamic whatever the inputs: outputs whose size depends on input *values* (WHERE, UNIQUE,
NMS), and outputs of ops whose size is read from a non-constant tensor that is not itself
computed from shapes alone (RESHAPE to a shape read from data).

`remaining_dynamic(operators, tensors, inputs, fixed)` walks subgraph 0 in execution order
(the flatbuffer's operator order) and answers with the set of `(subgraph, tensor)` keys that
are still dynamic. Tensors of other subgraphs (control-flow bodies) keep their signature.
No runtime, no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from opaudit.findings import Operator, TensorInfo

Key = tuple[int, int]

# Output size depends on input values.
VALUE_DEPENDENT = frozenset({"WHERE", "UNIQUE", "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5"})
# Output size is read from an input tensor's values (a shape, sizes, begin/end, multiples, ...).
SHAPE_FROM_VALUES = frozenset({
    "RESHAPE", "BROADCAST_TO", "FILL", "TILE", "PAD", "PADV2", "MIRROR_PAD", "SLICE", "STRIDED_SLICE",
    "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "RANGE", "SPLIT_V",
    "EXPAND_DIMS", "SQUEEZE", "TRANSPOSE_CONV", "SUM", "MEAN", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD",
})
# Ops whose output is a shape (no values of the data involved).
SHAPE_OPS = frozenset({"SHAPE", "RANK"})
INT_TYPES = frozenset({"int32", "int64", "int16", "int8", "uint8"})


def remaining_dynamic(
    operators: Sequence[Operator],
    tensors: Sequence[TensorInfo],
    inputs: Iterable[int],
    fixed: Iterable[int],
) -> frozenset[Key]:
    """Dynamic tensors that stay dynamic when the subgraph-0 inputs in `fixed` get static shapes.

    Args:
      operators: every node, execution order within each subgraph.
      tensors: every tensor.
      inputs: tensor indices of subgraph 0's inputs.
      fixed: the input tensor indices given a fixed shape (`--input-shape`; all inputs for
        the "what if every dynamic dim were fixed" question).
    Returns:
      `(subgraph, tensor)` keys of tensors that are dynamic after the resize.
    """
    by_key = {(t.subgraph, t.index): t for t in tensors}
    fixed = set(fixed)
    dynamic = {k for k, t in by_key.items() if t.is_dynamic and k[0] != 0}
    dynamic |= {(0, i) for i in inputs if i not in fixed and (0, i) in by_key and by_key[(0, i)].is_dynamic}
    shape_derived: set[Key] = {k for k, t in by_key.items() if t.buffer_size > 0}
    for op in operators:
        if op.subgraph != 0:
            continue
        ins = [(0, i) for i in op.inputs if i >= 0]
        outs = [(0, i) for i in op.outputs if i >= 0]
        if op.op in SHAPE_OPS or (ins and all(k in shape_derived for k in ins)):
            shape_derived.update(outs)
        if _stays_dynamic(op, ins, dynamic, shape_derived, by_key):
            dynamic.update(k for k in outs if k in by_key and by_key[k].is_dynamic)
    return frozenset(dynamic)


def _stays_dynamic(op: Operator, ins: list[Key], dynamic: set[Key], shape_derived: set[Key], by_key) -> bool:
    if op.op in VALUE_DEPENDENT:
        return True
    if op.op in SHAPE_OPS:
        return False  # its output is a shape: static once its input's shape is
    if any(k in dynamic for k in ins):
        return True
    if op.op in SHAPE_FROM_VALUES:
        return any(k not in shape_derived and by_key.get(k) is not None and by_key[k].dtype in INT_TYPES
                   for k in ins[1:])
    return False
