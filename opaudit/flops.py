"""Count the arithmetic of a TFLite graph from its tensor shapes (no runtime, no TensorFlow).

Only the ops that dominate vision models are counted, as 2 FLOPs per multiply-accumulate:
CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV, FULLY_CONNECTED, BATCH_MATMUL. Elementwise ops,
pooling and data movement are left out (a few percent on CNNs). Dynamic dimensions count as 1
(`shape`, not `shape_signature`), so pass a model converted with static shapes for exact numbers.
"""

from __future__ import annotations

from collections import Counter
from math import prod

from opaudit.flatbuf.model import ParsedModel


def _shape(m: ParsedModel, s: int, t: int) -> tuple[int, ...]:
    x = m.tensor(s, t) if t >= 0 else None
    return tuple(max(d, 1) for d in x.shape) if x else ()


def node_flops(m: ParsedModel, op) -> int:
    """FLOPs of one node (0 for ops that are not counted or lack shapes)."""
    ins = [_shape(m, op.subgraph, t) for t in op.inputs]
    out = _shape(m, op.subgraph, op.outputs[0]) if op.outputs else ()
    try:
        if op.op == "CONV_2D":  # filter [Cout, kh, kw, Cin], output [N, H, W, Cout]
            _, kh, kw, cin = ins[1]
            return 2 * prod(out) * kh * kw * cin
        if op.op == "DEPTHWISE_CONV_2D":  # filter [1, kh, kw, Cout]
            _, kh, kw, _ = ins[1]
            return 2 * prod(out) * kh * kw
        if op.op == "TRANSPOSE_CONV":  # inputs: output_shape, filter [Cout, kh, kw, Cin], input
            cout, kh, kw, _ = ins[1]
            return 2 * prod(ins[2]) * kh * kw * cout
        if op.op == "FULLY_CONNECTED":  # weights [units, in]
            return 2 * prod(out) * ins[1][-1]
        if op.op == "BATCH_MATMUL":  # a [..., m, k] (or adjoint), out [..., m, n]
            return 2 * prod(out) * min(ins[0][-1], ins[0][-2]) if len(ins[0]) >= 2 else 0
    except (IndexError, ValueError):
        return 0
    return 0


def count_flops(m: ParsedModel) -> tuple[int, dict[str, int]]:
    """(total FLOPs, FLOPs per op name) over every subgraph (loop bodies counted once)."""
    per: Counter[str] = Counter()
    for op in m.operators:
        per[op.op] += node_flops(m, op)
    return sum(per.values()), {k: v for k, v in per.most_common() if v}
