"""A typed, read-only view of a `.tflite` file.

`load(path)` maps the file (mmap, read-only; weight buffers are never copied), verifies
every offset opaudit will follow (`verify.py`), then reads it through the generated schema
bindings that ship with `ai_edge_litert` (importing them does not import TensorFlow or the
runtime). The result is plain data from `opaudit.findings` plus a few file-level facts.

Models over 2 GiB keep their buffers after the flatbuffer (`Buffer.offset`/`size`, offset from
the start of the file): those are checked against the file size and parsed the same way.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from ai_edge_litert import schema_py_generated as schema

from opaudit.errors import ModelFormatError
from opaudit.findings import Operator, SubgraphInfo, TensorInfo
from opaudit.flatbuf import flex
from opaudit.flatbuf.verify import verify
from opaudit.names import custom_code_kind, tf_op_type

BUILTIN_NAMES: dict[int, str] = {
    v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)
}
TENSOR_TYPES: dict[int, str] = {
    v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_") and isinstance(v, int)
}
# Names are untrusted: decode leniently, never fail on bad UTF-8.
_MAX_NAME = 1 << 20


def _text(b: bytes | None) -> str:
    if b is None:
        return ""
    return bytes(b[:_MAX_NAME]).decode("utf-8", errors="replace")


@dataclass
class ParsedModel:
    """Everything read from the flatbuffer. Lists are in file order."""

    path: str
    size: int
    sha256: str
    version: int
    description: str
    subgraphs: list[SubgraphInfo]
    operators: list[Operator]  # all subgraphs, (subgraph, index) order; `layer` not yet mapped
    tensors: list[TensorInfo]  # all subgraphs
    signatures: list[dict[str, Any]]
    metadata: dict[str, Any]
    min_runtime_version: str | None
    debug_metadata: bytes | None = None
    flex_nodes: dict[tuple[int, int], flex.FlexNode] = field(default_factory=dict)
    debug_index: dict[tuple[int, int], int] = field(default_factory=dict)  # node -> debug metadata entry

    def tensor(self, subgraph: int, index: int) -> TensorInfo | None:
        return self._tensor_index.get((subgraph, index))

    def __post_init__(self) -> None:
        self._tensor_index = {(t.subgraph, t.index): t for t in self.tensors}


def _hash(mm, size: int) -> str:
    h = hashlib.sha256()
    view = memoryview(mm)
    for start in range(0, size, 1 << 24):
        h.update(view[start : start + (1 << 24)])
    view.release()
    return h.hexdigest()


def load(path: str) -> ParsedModel:
    """Parse a `.tflite` file.

    Args:
      path: file to read (opened read-only; never modified).
    Returns:
      ParsedModel with operators (kind builtin/custom/flex, normalized names), tensors
      (shape, shape_signature, dtype, quantization, constant buffer size), signatures, metadata.
    Raises:
      ModelFormatError: unreadable, not a TFLite flatbuffer, truncated or damaged.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        raise ModelFormatError(f"cannot read {path}: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if not os.path.isfile(path):
            raise ModelFormatError(f"not a file: {path}")
        size = st.st_size
        if size == 0:
            raise ModelFormatError("not a TFLite model: file is empty")
        mm = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    finally:
        os.close(fd)
    # Hash on another thread (hashlib releases the GIL) while this one parses.
    digest: list[str] = []
    hasher = threading.Thread(target=lambda: digest.append(_hash(mm, size)), daemon=True)
    hasher.start()
    try:
        root = verify(mm, size)
        parsed = _read(mm, size, root, path)
        hasher.join()
        parsed.sha256 = digest[0]
        return parsed
    except ModelFormatError:
        raise
    except Exception as e:  # the bindings hit something verify() does not model
        raise ModelFormatError(f"damaged flatbuffer: {type(e).__name__}: {e}") from None
    finally:
        hasher.join()
        mm.close()


def _read(mm, size: int, root: int, path: str) -> ParsedModel:
    """Every subgraph, then the file-level tables, as a ParsedModel (offsets already verified)."""
    m = schema.Model()
    m.Init(mm, root)
    buffers = _buffers(m, size)
    codes = _opcodes(m)
    subgraphs, operators, tensors, flex_nodes, debug_index = [], [], [], {}, {}
    for s in range(m.SubgraphsLength()):
        sg = m.Subgraphs(s)
        ts = [_tensor(s, i, sg.Tensors(i), buffers) for i in range(sg.TensorsLength())]
        ops = [_operator(s, i, sg.Operators(i), codes, ts, mm, size, flex_nodes, debug_index)
               for i in range(sg.OperatorsLength())]
        subgraphs.append(_subgraph(s, sg, len(ops), len(ts)))
        operators.extend(ops)
        tensors.extend(ts)
    metadata, min_rt, debug = _metadata(m, buffers, mm)
    return ParsedModel(
        path=path,
        size=size,
        sha256="",  # filled by load() from the hashing thread
        version=m.Version(),
        description=_text(m.Description()),
        subgraphs=subgraphs,
        operators=operators,
        tensors=tensors,
        signatures=_signatures(m, len(subgraphs)),
        metadata=metadata,
        min_runtime_version=min_rt,
        debug_metadata=debug,
        flex_nodes=flex_nodes,
        debug_index=debug_index,
    )


def _operator(s: int, i: int, o, codes, ts: list[TensorInfo], mm, size: int,
              flex_nodes: dict, debug_index: dict) -> Operator:
    """Node `i` of subgraph `s`, normalized; records its Flex NodeDef and debug-metadata index."""
    idx = o.OpcodeIndex()
    if idx >= len(codes):
        raise ModelFormatError(f"damaged flatbuffer: subgraph {s} node {i} uses opcode {idx} of {len(codes)}")
    name, kind, version = codes[idx]
    ins = _ivec(o.InputsAsNumpy() if o.InputsLength() else ())
    outs = _ivec(o.OutputsAsNumpy() if o.OutputsLength() else ())
    for t in ins + outs:
        if t < -1 or t >= len(ts):
            raise ModelFormatError(f"damaged flatbuffer: subgraph {s} node {i} refers to tensor {t} of {len(ts)}")
    tf_op, node_name = None, None
    if kind == "flex":
        fn = flex.parse(_custom_options(o, mm, size))
        tf_op = fn.op if fn and fn.op else tf_op_type(name)
        if fn:
            flex_nodes[(s, i)] = fn
            node_name = fn.name or None
    elif kind == "custom":
        tf_op = name
    if node_name is None and outs and outs[0] >= 0:
        node_name = ts[outs[0]].name or None
    if (d := o.DebugMetadataIndex()) >= 0:
        debug_index[(s, i)] = d
    return Operator(s, i, name, kind, version, ins, outs, tf_op, node_name)


def _subgraph(s: int, sg, n_ops: int, n_tensors: int) -> SubgraphInfo:
    inputs = _ivec(sg.InputsAsNumpy() if sg.InputsLength() else ())
    outputs = _ivec(sg.OutputsAsNumpy() if sg.OutputsLength() else ())
    for t in inputs + outputs:
        if t < 0 or t >= n_tensors:
            raise ModelFormatError(f"damaged flatbuffer: subgraph {s} input/output tensor {t} of {n_tensors}")
    return SubgraphInfo(s, _text(sg.Name()), inputs, outputs, n_ops, n_tensors)


def _ivec(a) -> tuple[int, ...]:
    return tuple(int(x) for x in a)


def _opcodes(m) -> list[tuple[str, str, int]]:
    out = []
    for i in range(m.OperatorCodesLength()):
        c = m.OperatorCodes(i)
        code = max(int(c.BuiltinCode()), int(c.DeprecatedBuiltinCode()))
        if code == schema.BuiltinOperator.CUSTOM:
            custom = _text(c.CustomCode())
            if not custom:
                raise ModelFormatError(f"damaged flatbuffer: custom operator code {i} has no name")
            out.append((custom, custom_code_kind(custom), c.Version()))
        else:
            out.append((BUILTIN_NAMES.get(code, f"BUILTIN_{code}"), "builtin", c.Version()))
    return out


@dataclass(frozen=True)
class _Buf:
    size: int
    start: int  # absolute position of the data in the file, -1 if none


def _buffers(m, size: int) -> list[_Buf]:
    out = []
    for i in range(m.BuffersLength()):
        b = m.Buffers(i)
        off, n = int(b.Offset()), int(b.Size())
        if off > 1:  # large-model layout: data after the flatbuffer
            if off + n > size:
                raise ModelFormatError(
                    f"truncated model: buffer {i} spans bytes {off}..{off + n} of a {size}-byte file"
                )
            out.append(_Buf(n, off))
        elif b.DataLength():
            o = b._tab.Offset(4)
            out.append(_Buf(b.DataLength(), b._tab.Vector(o)))
        else:
            out.append(_Buf(0, -1))
    return out


def _tensor(s: int, i: int, t, buffers: list[_Buf]) -> TensorInfo:
    buf = int(t.Buffer())
    if buf >= len(buffers):
        raise ModelFormatError(f"damaged flatbuffer: tensor {i} of subgraph {s} uses buffer {buf} of {len(buffers)}")
    q = t.Quantization()
    quant = None
    if q is not None and (q.ScaleLength() or q.ZeroPointLength()):
        quant = {
            "scale": [float(x) for x in q.ScaleAsNumpy()] if q.ScaleLength() else [],
            "zero_point": [int(x) for x in q.ZeroPointAsNumpy()] if q.ZeroPointLength() else [],
            "axis": int(q.QuantizedDimension()),
        }
    sig = _ivec(t.ShapeSignatureAsNumpy()) if t.ShapeSignatureLength() else None
    return TensorInfo(
        subgraph=s,
        index=i,
        name=_text(t.Name()),
        dtype=TENSOR_TYPES.get(int(t.Type()), f"type_{int(t.Type())}"),
        shape=_ivec(t.ShapeAsNumpy()) if t.ShapeLength() else (),
        shape_signature=sig,
        buffer=buf,
        buffer_size=buffers[buf].size,
        quantization=quant,
        is_variable=bool(t.IsVariable()),
    )


def _custom_options(o, mm, size: int) -> bytes:
    if o.CustomOptionsLength():
        pos = o._tab.Vector(o._tab.Offset(14))
        return bytes(mm[pos : pos + o.CustomOptionsLength()])
    off, n = int(o.LargeCustomOptionsOffset()), int(o.LargeCustomOptionsSize())
    if off and n and off + n <= size:
        return bytes(mm[off : off + n])
    return b""


def _signatures(m, nsub: int) -> list[dict[str, Any]]:
    out = []
    for i in range(m.SignatureDefsLength()):
        d = m.SignatureDefs(i)
        sub = int(d.SubgraphIndex())
        if sub >= nsub:
            raise ModelFormatError(f"damaged flatbuffer: signature {i} names subgraph {sub} of {nsub}")
        out.append(
            {
                "key": _text(d.SignatureKey()),
                "subgraph": sub,
                "inputs": {_text(d.Inputs(j).Name()): int(d.Inputs(j).TensorIndex()) for j in range(d.InputsLength())},
                "outputs": {_text(d.Outputs(j).Name()): int(d.Outputs(j).TensorIndex()) for j in range(d.OutputsLength())},
            }
        )
    return out


def _metadata(m, buffers: list[_Buf], mm) -> tuple[dict[str, Any], str | None, bytes | None]:
    meta: dict[str, Any] = {}
    min_rt, debug = None, None
    for i in range(m.MetadataLength()):
        e = m.Metadata(i)
        name, bi = _text(e.Name()), int(e.Buffer())
        if bi >= len(buffers):
            raise ModelFormatError(f"damaged flatbuffer: metadata {name!r} uses buffer {bi} of {len(buffers)}")
        b = buffers[bi]
        data = bytes(mm[b.start : b.start + b.size]) if b.start >= 0 else b""
        if name == "min_runtime_version":
            min_rt = data.split(b"\0", 1)[0].decode("ascii", errors="replace")
            meta[name] = min_rt
        elif name == "debug_metadata":
            debug = data
            meta[name] = {"size": len(data)}
        elif name == "CONVERSION_METADATA" or len(data) > 256:
            meta[name] = {"size": len(data)}
        else:
            meta[name] = data.split(b"\0", 1)[0].decode("utf-8", errors="replace")
    return meta, min_rt, debug
