"""Hand-made graphs of `Operator` / `TensorInfo` for unit tests (no TFLite file, no runtime)."""

from __future__ import annotations

from opaudit.findings import Operator, TensorInfo


def T(index, dtype="float32", shape=(1, 8, 8, 3), sig=None, const=False, quant=None, name=None, subgraph=0):
    """A tensor; `const` gives it a 64-byte buffer, `sig` a shape signature (-1 = dynamic)."""
    return TensorInfo(subgraph=subgraph, index=index, name=name or f"t{index}", dtype=dtype, shape=shape,
                      shape_signature=sig, buffer=index + 1 if const else 0,
                      buffer_size=64 if const else 0, quantization=quant)


def Op(op, inputs, outputs, kind="builtin", version=1, tf_op=None, index=0, subgraph=0, layer=None):
    """A node with the given tensor indices."""
    return Operator(subgraph=subgraph, index=index, op=op, kind=kind, version=version,
                    inputs=tuple(inputs), outputs=tuple(outputs), tf_op=tf_op, layer=layer)


def chain(kinds: list[str]) -> list[Operator]:
    """Nodes i = 0..n-1 of a straight line: node i reads tensor i and writes tensor i + 1."""
    return [Op(k, [i], [i + 1], index=i) for i, k in enumerate(kinds)]
