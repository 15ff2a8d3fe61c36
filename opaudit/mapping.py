"""Map TFLite nodes back to the Keras layers they came from.

The thread back is the TensorFlow name scope that the converter keeps:
- Flex nodes embed their NodeDef, whose (original) name is the scoped TF op name;
- other nodes' output tensors are named after the scoped op (`model/ROI/NonMaxSuppressionV3`),
  several names joined with `;` when ops were fused;
- graph outputs are renamed `StatefulPartitionedCall_1:0` and lose the scope; the debug
  metadata (when converted with `serialize_debug_metadata`) keeps each op's own location, so
  when present it is preferred over tensor names (Flex NodeDef names come first).

A scope `functional_1/rpn_model_1/rpn_conv_shared_1/convolution` reads: model, then layer
scopes, then the op. Keras 3 adds a `_N` suffix to every scope it enters while tracing
(`roi_align_classifier_1`); tf-keras does not. We detect the Keras 3 pattern over the whole
model (every top-level layer scope carries a numeric suffix) and strip one suffix per segment
only then. Without the Keras model we cannot tell a nested layer scope from a name scope that
an op opened inside `call`, so `layer` is the top-level layer and `tf_name` keeps the full path;
`opaudit fix`, which has the model, resolves nested layers against real layer names.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import NamedTuple

from opaudit.findings import Operator
from opaudit.names import has_scope_suffix, strip_scope_suffix

def candidate_names(op: Operator, tensor_names: Sequence[str]) -> list[str]:
    """Scoped TF op names of `op`'s output tensors (`;`-fused names split), in order."""
    names = []
    for t in op.outputs:
        if 0 <= t < len(tensor_names):
            names.extend(n for n in tensor_names[t].split(";") if n)
    return [n for n in names if "/" in n]


def _split(name: str) -> list[str]:
    name = name.split(":", 1)[0]
    return [s for s in name.split("/") if s]


def detect_keras3(names: Sequence[str]) -> bool:
    """True when scoped names follow the Keras 3 pattern (`model_1/layer_1/op`)."""
    tops = {parts[1] for n in names if len(parts := _split(n)) >= 3}
    firsts = {parts[0] for n in names if len(parts := _split(n)) >= 3}
    if not tops:
        return False
    return all(has_scope_suffix(s) for s in tops | firsts)


# Scopes that TensorFlow itself opens inside a function (control flow, tensor arrays): never layers.
_TF_SCOPES = re.compile(r"^(while|cond|map|body|Cond|TensorArray\w*|\w+_grad)(_\d+)?$")


def layer_of(name: str, keras3: bool) -> str | None:
    """Top-level Keras layer of a scoped TF op name; None when it has no layer scope.

    `functional_1/roi_align_classifier_1/CropAndResize` -> `roi_align_classifier` (Keras 3),
    `model/ROI/rpn_non_max_suppression/NonMaxSuppressionV3` -> `ROI` (tf-keras),
    `map/while/NonMaxSuppressionV3` (a bare tf.function) -> None.
    """
    parts = _split(name)
    if len(parts) < 3 or _TF_SCOPES.match(parts[0]) or _TF_SCOPES.match(parts[1]):
        return None
    seg = parts[1]
    return strip_scope_suffix(seg) if keras3 else seg


def map_layers(
    operators: Sequence[Operator],
    tensor_names: dict[int, Sequence[str]],
    flex_names: dict[tuple[int, int], str],
    debug_names: dict[tuple[int, int], str] | None = None,
    constant: Callable[[int, int], bool] | None = None,
) -> list[Operator]:
    """Return operators with `layer`, `layer_source` and `tf_name` filled where known.

    Args:
      operators: parsed nodes (all subgraphs).
      tensor_names: subgraph -> tensor names by index.
      flex_names: (subgraph, node) -> NodeDef name of Flex nodes.
      debug_names: (subgraph, node) -> scoped name from the debug metadata, if present.
      constant: `(subgraph, tensor) -> bool`, True for weight/constant tensors (used to place
        nodes that have no scoped name of their own).
    """
    debug_names = debug_names or {}
    cands: dict[tuple[int, int], tuple[str, str]] = {}
    for op in operators:
        key = (op.subgraph, op.index)
        fx = flex_names.get(key)
        if fx and "/" in fx:
            cands[key] = (fx, "flex_nodedef")
            continue
        if key in debug_names and "/" in debug_names[key]:
            cands[key] = (debug_names[key], "debug_metadata")
            continue
        names = candidate_names(op, tensor_names.get(op.subgraph, ()))
        if names:
            cands[key] = (names[0], "tensor_name")
    keras3 = detect_keras3([n for n, _ in cands.values()])
    if constant is not None:
        _infer_from_constants(operators, tensor_names, cands, keras3, constant)
    out = []
    for op in operators:
        c = cands.get((op.subgraph, op.index))
        if c is None:
            out.append(op)
            continue
        layer = layer_of(c[0], keras3)
        tf_name = None if c[1] == "inputs" else c[0]
        out.append(dataclasses.replace(op, layer=layer, layer_source=c[1] if layer else None, tf_name=tf_name))
    return out


def _infer_from_constants(operators, tensor_names, cands, keras3: bool, constant) -> None:
    """Nodes with no scoped name of their own (a custom op whose output became a graph output)
    take the layer named by their constant inputs: constants are created inside the layer's
    `call` (`model_1/roi_align_1/CropAndResize/crop_size`), unlike activations, which come from
    the previous layer. Only when all such names agree; marked `inputs` as the source."""
    for op in operators:
        key = (op.subgraph, op.index)
        if key in cands:
            continue
        names = tensor_names.get(op.subgraph, ())
        scoped = [n for t in op.inputs if 0 <= t < len(names) and constant(op.subgraph, t)
                  for n in names[t].split(";") if "/" in n]
        layers = {layer_of(n, keras3) for n in scoped} - {None}
        if len(layers) == 1:
            cands[key] = (scoped[0], "inputs")


class Explosion(NamedTuple):
    """`count` identical `op` nodes of one `layer` (same weights), and how they are wired.

    `pattern`: `slices` (each reads a slice of one common tensor: an unrolled per-step map,
    what Keras 3 TimeDistributed emits), `loop` (each reads a tensor computed from what the
    first one read: a loop in the layer's own code, e.g. a per-octave filter bank), `shared`
    (parallel branches sharing weights). `source`: the sliced tensor for `slices`, else None.
    """

    layer: str
    op: str
    count: int
    pattern: str
    nodes: tuple[tuple[int, int], ...]
    source: str | None = None


PATTERN_ORDER = ("slices", "loop", "shared")
SLICE_OPS = frozenset({"STRIDED_SLICE", "SLICE", "UNPACK", "SPLIT", "SPLIT_V", "GATHER"})


def explosions(
    operators: Sequence[Operator], constant: Callable[[int, int], bool], min_nodes: int = 8,
    tensor_names: dict[int, Sequence[str]] | None = None,
) -> list[Explosion]:
    """Layers expanded into many identical nodes, largest first.

    Nodes are identical when they share layer, op and weights (`constant(subgraph, tensor)`
    says which inputs are weights, not index vectors such as a slice's begin/end, which every
    unrolled layout op shares); `min_nodes` or more such nodes are an explosion. Distinct
    weights (the blocks of a ResNet inside one sub-model) never count, and nodes without
    constant inputs are not compared. Each group of shared weights is classified by
    `classify_group`; a layer with several groups takes the first of slices, loop, shared.
    """
    groups: dict[tuple, list[Operator]] = defaultdict(list)
    for op in operators:
        consts = tuple(t for t in op.inputs if t >= 0 and constant(op.subgraph, t))
        if op.layer and consts:
            groups[(op.layer, op.op, op.subgraph, consts)].append(op)
    best: dict[tuple[str, str], list[list[Operator]]] = defaultdict(list)
    for (layer, name, _, _), nodes in groups.items():
        if len(nodes) >= min_nodes:
            best[(layer, name)].append(nodes)
    out = []
    for (layer, name), lists in best.items():
        nodes = [o for lst in lists for o in lst]
        found = [classify_group(lst, operators, constant) for lst in lists]
        pattern, src = min(found, key=lambda f: PATTERN_ORDER.index(f[0]))  # slices > loop > shared
        names = (tensor_names or {}).get(nodes[0].subgraph, ())
        source = names[src] if src is not None and 0 <= src < len(names) else None
        out.append(Explosion(layer, name, len(nodes), pattern, tuple((o.subgraph, o.index) for o in nodes), source))
    return sorted(out, key=lambda e: -e.count)


def classify_group(group: Sequence[Operator], operators: Sequence[Operator],
                   constant: Callable[[int, int], bool]) -> tuple[str, int | None]:
    """(`slices` | `loop` | `shared`, sliced tensor index or None) for one group of identical
    nodes of one subgraph (see `Explosion`)."""
    sg = group[0].subgraph
    sub = [o for o in operators if o.subgraph == sg]
    producer = {t: o for o in sub for t in o.outputs if t >= 0}

    def data_inputs(o: Operator) -> list[int]:
        return [t for t in o.inputs if t >= 0 and not constant(sg, t)]

    sources = set()
    for o in group:
        ins = data_inputs(o)
        p = producer.get(ins[0]) if ins else None
        if p is None or p.op not in SLICE_OPS or not data_inputs(p):
            sources = set()
            break
        sources.add(data_inputs(p)[0])
    if len(sources) == 1:
        return "slices", sources.pop()
    members = {o.index for o in group}
    first = min(members)
    reached = set(data_inputs(next(o for o in sub if o.index == first)))
    hit = 0
    for o in sub:
        if o.index >= first and any(t in reached for t in o.inputs):
            reached.update(o.outputs)
            hit += o.index in members and o.index != first
    return ("loop" if hit >= (len(members) - 1) / 2 else "shared"), None
