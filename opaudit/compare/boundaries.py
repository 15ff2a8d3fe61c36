"""Which TFLite tensor holds which Keras layer output (pure; no TensorFlow import).

A Keras layer output survives conversion as a TFLite tensor unless the converter fused it away
(Conv2D + BatchNormalization + ReLU become one CONV_2D whose output is named
``model_1/relu_1/Relu;model_1/conv_1/convolution``: the BatchNormalization and the Conv2D outputs
no longer exist). Matching:

1. graph outputs: SignatureDef output ``name`` is the Keras output of that name, else
   ``output_<i>`` is Keras output ``i`` (Keras 3 exports list outputs in call order);
2. any other tensor is a candidate for the outputs of the layers its name mentions and of their
   direct consumers (a fused activation may leave no name), when the shapes agree (batch 1);
3. candidates are scored by ``max_rel`` of the TFLite value against the Keras value on the same
   (first) sample, and assigned best first, one tensor per Keras output and one Keras output per
   tensor. A wrong conversion still maps: its tensor is the best candidate of its own layer.

Keras outputs left without a tensor are compared at the nearest boundary downstream (see
`opaudit.compare.engine`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class KerasOut:
    """A Keras layer output: tensor ``key``, producing node ``order`` and ``layer`` (the layer
    name, without a ``#N`` call suffix), symbolic ``shape``, and the orders of its consumers."""

    key: int
    order: int
    layer: str
    shape: tuple
    consumers: tuple[int, ...] = ()


def shapes_agree(keras_shape: Sequence, tfl_shape: Sequence) -> bool:
    """Same rank and dims, a Keras ``None`` dim matching anything (the batch is pinned to 1)."""
    return len(keras_shape) == len(tfl_shape) and all(
        k is None or int(k) == int(t) for k, t in zip(keras_shape, tfl_shape))


def output_keys(sig_out: dict[str, int], keras_names: list[str], keras_keys: list[int]) -> dict[int, int]:
    """SignatureDef outputs -> ``{keras output key: tensor index}`` (rules 1 above)."""
    out: dict[int, int] = {}
    for name, tensor in sig_out.items():
        if name in keras_names:
            out[keras_keys[keras_names.index(name)]] = tensor
        elif name.startswith("output_") and name[7:].isdigit() and int(name[7:]) < len(keras_keys):
            out[keras_keys[int(name[7:])]] = tensor
    if not out and len(sig_out) == len(keras_keys):  # unnamed: positional
        out = {k: t for k, t in zip(keras_keys, sig_out.values())}
    return out


def candidates(tensors, outs: list[KerasOut], by_order: dict[int, list[KerasOut]],
               fixed: dict[int, int]) -> list[tuple[int, int]]:
    """(keras key, tensor index) pairs worth scoring: rule 2 above, shapes agreeing."""
    by_layer: dict[str, list[KerasOut]] = {}
    for o in outs:
        by_layer.setdefault(o.layer, []).append(o)
    taken = set(fixed.values())
    pairs = []
    for t in tensors:
        if t.index in taken:
            continue
        named = [o for layer in t.layers for o in by_layer.get(layer, [])]
        after = [c for o in named for order in o.consumers for c in by_order.get(order, [])]
        seen = set()
        for o in named + after:
            if o.key in fixed or o.key in seen or not shapes_agree(o.shape, t.shape):
                continue
            seen.add(o.key)
            pairs.append((o.key, t.index))
    return pairs


def assign(scored: list[tuple[float, int, int]], fixed: dict[int, int]) -> dict[int, int]:
    """Greedy one-to-one assignment, best score first: ``scored`` = [(score, key, tensor)];
    ``fixed`` (graph outputs) is kept as is. Returns ``{keras key: tensor index}``."""
    out = dict(fixed)
    used = set(fixed.values())
    for _, key, tensor in sorted(scored, key=lambda s: (s[0], s[2])):
        if key not in out and tensor not in used:
            out[key] = tensor
            used.add(tensor)
    return out
