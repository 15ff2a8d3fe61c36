"""Small TensorFlow helpers shared by the custom layers."""
from __future__ import annotations

import tensorflow as tf


def batch_slice(inputs, graph_fn, batch_size: int, names=None):
    """Run ``graph_fn`` on each batch item with a Python loop (the reference's batch handling).

    inputs: list of tensors ``[B, ...]``; ``graph_fn(*[x[i] for x in inputs])`` returns a tensor or
    a list of tensors; results are stacked on a new axis 0, so outputs have the static batch size
    ``batch_size`` (config.BATCH_SIZE). Returns one tensor or a list (one per ``graph_fn`` output).
    """
    if not isinstance(inputs, (list, tuple)):
        inputs = [inputs]
    outputs = []
    for i in range(batch_size):
        out = graph_fn(*[x[i] for x in inputs])
        outputs.append(out if isinstance(out, (list, tuple)) else [out])
    per_output = list(zip(*outputs))
    names = names or [None] * len(per_output)
    result = [tf.stack(list(o), axis=0, name=n) for o, n in zip(per_output, names)]
    return result[0] if len(result) == 1 else result


def log2_graph(x):
    """Element-wise base-2 logarithm (``log(x) / log(2)``)."""
    return tf.math.log(x) / tf.math.log(2.0)
