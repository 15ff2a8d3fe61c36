"""Cut nodes out of a `.tflite` into a model of their own (generated schema object API).

`NodeExtractor(data).extract(subgraph, nodes, input_shapes)` returns the bytes of a new model
whose first subgraph holds exactly those nodes: their operators (options untouched), the
tensors they read and write, the constant buffers they read and the operator codes they use.
Tensors the nodes read that are neither constants nor produced by them become the new model's
inputs (with the concrete shapes given, so a node fed by a dynamic-shape op is static in
isolation); every tensor the nodes write becomes an output. Nodes that call other subgraphs
(WHILE, IF, CALL_ONCE, StableHLO regions: any option field ending in `SubgraphIndex`, and
CALL's `subgraph`) take those subgraphs along, transitively, whole, with their indices
remapped, so a control-flow node is extracted with everything it runs.

Only the pieces used are unpacked from the source (reader objects, not a full `ModelT`), so
extracting one node of a 200 MB model costs its own weights, not the model's. Buffers stored
after the flatbuffer (models over 2 GiB: `Buffer.offset`/`size`) are copied inline.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

_FILE_ID = b"TFL3"


def ints(values) -> list[int]:
    """A flatbuffer index vector (None, list or numpy array) as a list of ints."""
    return [] if values is None else [int(v) for v in values]


def subgraph_refs(op: schema.OperatorT) -> list[int]:
    """Subgraph indices an operator calls (its control-flow / region options), in field order."""
    refs = []
    for opts in (op.builtinOptions, getattr(op, "builtinOptions2", None)):
        if opts is None:
            continue
        for name, value in vars(opts).items():
            if (name.endswith("SubgraphIndex") or (isinstance(opts, schema.CallOptionsT) and name == "subgraph")) \
                    and isinstance(value, int) and value >= 0:
                refs.append(value)
    return refs


def _remap_refs(op: schema.OperatorT, new_index: Mapping[int, int]) -> None:
    for opts in (op.builtinOptions, getattr(op, "builtinOptions2", None)):
        if opts is None:
            continue
        for name, value in list(vars(opts).items()):
            if (name.endswith("SubgraphIndex") or (isinstance(opts, schema.CallOptionsT) and name == "subgraph")) \
                    and isinstance(value, int) and value >= 0:
                setattr(opts, name, new_index[value])


class NodeExtractor:
    """Extract nodes of one model; unpacked subgraphs are cached between calls.

    Args:
      data: the whole `.tflite` file (bytes or a read-only mmap); never modified.
    """

    def __init__(self, data) -> None:
        self.data = data
        self.model = schema.Model.GetRootAs(data, 0)
        self._subgraphs: dict[int, schema.SubGraphT] = {}

    def subgraph(self, index: int) -> schema.SubGraphT:
        """The unpacked subgraph `index` (shared: callers copy before changing anything)."""
        if index not in self._subgraphs:
            self._subgraphs[index] = schema.SubGraphT.InitFromObj(self.model.Subgraphs(index))
        return self._subgraphs[index]

    def closure(self, subgraph: int, nodes: Sequence[int]) -> list[int]:
        """`[subgraph]` + every subgraph the nodes call, transitively, in discovery order."""
        order, todo = [subgraph], [r for n in nodes for r in subgraph_refs(self.subgraph(subgraph).operators[n])]
        while todo:
            s = todo.pop(0)
            if s not in order:
                order.append(s)
                todo.extend(r for op in self.subgraph(s).operators or [] for r in subgraph_refs(op))
        return order

    def is_constant(self, t: schema.TensorT) -> bool:
        """True for a tensor with data in its buffer (weights, constants); variables are not."""
        if t.buffer <= 0 or t.isVariable:
            return False
        b = self.model.Buffers(t.buffer)
        return b is not None and (b.DataLength() > 0 or b.Offset() > 1)

    def _buffer(self, index: int) -> schema.BufferT:
        buf = schema.BufferT.InitFromObj(self.model.Buffers(index))
        if buf.offset > 1:  # stored after the flatbuffer: copy inline
            buf.data = np.frombuffer(self.data[buf.offset: buf.offset + buf.size], np.uint8)
            buf.offset = buf.size = 0
        return buf

    def extract(self, subgraph: int, nodes: Sequence[int],
                input_shapes: Mapping[int, Sequence[int]] | None = None) -> bytes:
        """A model of `nodes` (indices into `subgraph`, in execution order).

        Args:
          subgraph: the subgraph holding the nodes.
          nodes: node indices; several nodes form one run (internal tensors stay internal
            but are outputs too, so each node's result can be read).
          input_shapes: source tensor index -> concrete shape for the new model's inputs.
        Returns:
          The new `.tflite` as bytes: subgraph 0 = the nodes, then the subgraphs they call.
        """
        order = self.closure(subgraph, nodes)
        new_sg = {old: new for new, old in enumerate(order)}
        state = _Builder(self)
        first = self._cut(subgraph, nodes, state, input_shapes or {})
        rest = [state.whole_subgraph(self.subgraph(s)) for s in order[1:]]
        for sg in [first, *rest]:
            for op in sg.operators:
                _remap_refs(op, new_sg)
        model = schema.ModelT()
        model.version, model.description = 3, "opaudit profile: extracted nodes"
        model.operatorCodes, model.subgraphs, model.buffers = state.codes, [first, *rest], state.buffers
        builder = flatbuffers.Builder(1 << 16)
        builder.Finish(model.Pack(builder), file_identifier=_FILE_ID)
        return bytes(builder.Output())

    def _cut(self, subgraph: int, nodes: Sequence[int], state: _Builder,
             input_shapes: Mapping[int, Sequence[int]]) -> schema.SubGraphT:
        src = self.subgraph(subgraph)
        ops = [copy.deepcopy(src.operators[n]) for n in nodes]
        produced = {t for op in ops for t in ints(op.outputs) + ints(op.intermediates) if t >= 0}
        used: dict[int, int] = {}  # old tensor -> new tensor
        inputs = []
        for op in ops:
            for t in ints(op.inputs) + ints(op.outputs) + ints(op.intermediates):
                if t < 0 or t in used:
                    continue
                used[t] = len(used)
                if t not in produced and not self.is_constant(src.tensors[t]):
                    inputs.append(t)
        sg = schema.SubGraphT()
        sg.tensors = [state.tensor(src.tensors[t], input_shapes.get(t) if t in inputs else None) for t in used]
        sg.inputs = [used[t] for t in inputs]
        sg.outputs = [used[t] for op in ops for t in ints(op.outputs) if t >= 0]
        sg.operators = [state.operator(op, used) for op in ops]
        sg.name = f"extract_{subgraph}_{'_'.join(str(n) for n in nodes[:4])}"
        return sg


class _Builder:
    """Buffers and operator codes of the model being built, shared by all its subgraphs."""

    def __init__(self, source: NodeExtractor) -> None:
        self.source = source
        self.buffers: list[schema.BufferT] = [schema.BufferT()]  # buffer 0: the empty sentinel
        self.codes: list[schema.OperatorCodeT] = []
        self._buf_map: dict[int, int] = {0: 0}
        self._code_map: dict[int, int] = {}

    def tensor(self, t: schema.TensorT, shape: Sequence[int] | None) -> schema.TensorT:
        out = copy.copy(t)
        if t.buffer not in self._buf_map:
            self._buf_map[t.buffer] = len(self.buffers)
            self.buffers.append(self.source._buffer(t.buffer))
        out.buffer = self._buf_map[t.buffer]
        if shape is not None:  # a fed input: static, the shape it had in the full run
            out.shape, out.shapeSignature = np.asarray(shape, np.int32), None
        return out

    def operator(self, op: schema.OperatorT, tensors: Mapping[int, int] | None) -> schema.OperatorT:
        if op.opcodeIndex not in self._code_map:
            self._code_map[op.opcodeIndex] = len(self.codes)
            self.codes.append(schema.OperatorCodeT.InitFromObj(self.source.model.OperatorCodes(op.opcodeIndex)))
        op.opcodeIndex = self._code_map[op.opcodeIndex]
        if tensors is not None:
            for field in ("inputs", "outputs", "intermediates"):
                vals = ints(getattr(op, field))
                if vals:
                    setattr(op, field, [tensors[t] if t >= 0 else -1 for t in vals])
        return op

    def whole_subgraph(self, src: schema.SubGraphT) -> schema.SubGraphT:
        """A copy of a called subgraph with buffer and operator-code indices of the new model."""
        sg = copy.copy(src)
        sg.tensors = [self.tensor(t, None) for t in src.tensors or []]
        sg.operators = [self.operator(copy.deepcopy(op), None) for op in src.operators or []]
        return sg
