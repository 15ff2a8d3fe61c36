"""The Keras side of `opaudit compare`: a functional model as a list of call nodes, and running
any part of it on given tensors (worker side; imports Keras lazily).

A Keras 3 functional model is a DAG of *nodes* (one per layer call; a layer called twice, like a
shared RPN head, has two) joined by symbolic tensors. `graph(model)` lists the top-level nodes
in execution order, each with the keys (``id`` of the symbolic tensor) of its inputs and
outputs. `evaluate(nodes, known, targets)` computes the ``targets`` from the ``known`` values,
running only the nodes needed -- the whole model (known = the model inputs), one layer (known =
its inputs), or the smallest sub-model between given boundaries. `walk` runs the whole model
node by node and frees every value once no later node reads it, so memory stays that of one
inference whatever the number of layers. Every layer runs with
``training=False``, as the converter exports it. Nested models are one node (their own layers
are not split).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from opaudit.errors import UsageError


@dataclass
class KNode:
    """One layer call. ``order``: execution order; ``inputs``/``outputs``: tensor keys;
    ``shapes``: symbolic output shapes (batch may be None)."""

    order: int
    layer: str
    class_name: str
    inputs: list[int]
    outputs: list[int]
    shapes: list[tuple]
    node: Any = None
    name: str = ""  # the layer's own name (``layer`` without the ``#N`` call suffix)
    op: Any = None  # the layer object


def graph(model) -> tuple[list[KNode], list[int], list[int]]:
    """-> (nodes in execution order, model input keys, model output keys). Functional models of
    Keras 3 or tf_keras (Keras 2); a subclassed model raises UsageError (no call graph to cut)."""
    by_depth = getattr(model, "_nodes_by_depth", None)
    if by_depth is None:
        raise UsageError(f"{type(model).__name__} is not a functional Keras model: no layer graph to compare")
    nodes: list[KNode] = []
    calls: dict[str, int] = {}
    for depth in sorted(by_depth, reverse=True):
        for node in by_depth[depth]:
            op = getattr(node, "operation", None) or getattr(node, "layer", None)  # Keras 3 | tf_keras
            if not op or node.is_input:
                continue
            calls[op.name] = calls.get(op.name, 0) + 1
            label = op.name if calls[op.name] == 1 else f"{op.name}#{calls[op.name]}"
            outs = _flat(node.outputs)
            nodes.append(KNode(order=len(nodes), layer=label, class_name=type(op).__name__,
                               inputs=[id(x) for x in _inputs(node)], outputs=[id(x) for x in outs],
                               shapes=[_shape(x) for x in outs], node=node, name=op.name, op=op))
    return nodes, [id(x) for x in model.inputs], [id(x) for x in _flat(model.outputs)]


def _inputs(node) -> list:
    return list(node.input_tensors) if hasattr(node, "arguments") else list(node.keras_inputs)


def _flat(x) -> list:
    import tensorflow as tf

    return tf.nest.flatten(x)


def _shape(x) -> tuple:
    shape = x.shape
    return tuple(shape.as_list()) if hasattr(shape, "as_list") else tuple(shape)


def _arguments(n: KNode, values: dict[int, Any]) -> tuple[tuple, dict]:
    """The node's call arguments filled with ``values`` (Keras 3: keyed by ``id``; tf_keras:
    ``str(id)`` with one list entry per use, as its functional runner keeps them)."""
    if hasattr(n.node, "arguments"):
        return n.node.arguments.fill_in(values)
    uses: dict[str, list] = {}
    for k in n.inputs:
        uses.setdefault(str(k), []).append(values[k])
    return n.node.map_arguments(uses)


def producers(nodes: list[KNode]) -> dict[int, KNode]:
    """Tensor key -> the node that produces it."""
    return {k: n for n in nodes for k in n.outputs}


def region(target: KNode, have: set[int], made_by: dict[int, KNode]) -> list[KNode]:
    """The nodes to run, in execution order, to compute ``target`` from the tensors in ``have``:
    walk back from its inputs until every path reaches a tensor in ``have``."""
    need: dict[int, KNode] = {target.order: target}
    stack = [k for k in target.inputs if k not in have]
    while stack:
        k = stack.pop()
        n = made_by.get(k)
        if n is None or n.order in need:
            continue
        need[n.order] = n
        stack.extend(x for x in n.inputs if x not in have)
    return [need[o] for o in sorted(need)]


def run_nodes(run: list[KNode], values: dict[int, Any]) -> dict[int, Any]:
    """Run ``run`` in order on ``values`` (tensor key -> array), adding what each node makes.
    Returns ``values`` (numpy arrays for every output made)."""
    for n in run:
        args, kwargs = _arguments(n, values)
        if getattr(n.op, "_call_has_training_arg", False) or getattr(n.op, "_expects_training_arg", False):
            kwargs = {**kwargs, "training": False}
        out = n.op(*args, **kwargs)
        for key, v in zip(n.outputs, _flat(out)):
            values[key] = np.asarray(v)
    return values


def walk(nodes: list[KNode], values: dict[int, Any], keep: set[int], visit: Callable[[KNode, dict], None]) -> None:
    """Run every node in order on ``values``; after each, ``visit(node, values)`` (its inputs
    and outputs still present), then drop values no later node reads (except keys in ``keep``)."""
    last: dict[int, int] = {}
    for n in nodes:
        for k in n.inputs:
            last[k] = max(last.get(k, -1), n.order)
    for n in nodes:
        run_nodes([n], values)
        visit(n, values)
        for k in n.inputs + n.outputs:
            if k not in keep and last.get(k, -1) <= n.order:
                values.pop(k, None)
