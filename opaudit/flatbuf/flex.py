"""Decode the custom options of a Select-TF (Flex) node.

A Flex node's custom options are a FlexBuffer vector `[op_type: str, node_def: bytes]` where
`node_def` is a serialized TensorFlow `NodeDef` protobuf: field 1 `name`, field 2 `op`, field 6
`experimental_debug_info` whose field 1 `original_node_names` carries the Keras scope
(`model/roi_align_classifier_1/CropAndResize`) even when the output tensor was renamed and the
converter left `name` empty (TF 2.21 does).

We read those two fields from the protobuf wire format directly: importing TensorFlow's
`node_def_pb2` would pull in all of TensorFlow (~6 s) on the `inspect` path. The custom
options are untrusted: any malformed byte yields `None`, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass

from flatbuffers import flexbuffers


@dataclass(frozen=True)
class FlexNode:
    op: str  # TF op type, e.g. "CropAndResize"
    name: str  # NodeDef name, e.g. "model/roi_align_classifier_1/CropAndResize"


def _varint(b: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(b) or shift > 63:
            raise ValueError("bad varint")
        c = b[i]
        i += 1
        result |= (c & 0x7F) << shift
        if not c & 0x80:
            return result, i
        shift += 7


def _fields(b: bytes, wanted: tuple[int, ...]) -> dict[int, bytes]:
    """First occurrence of each wanted length-delimited field of a protobuf message."""
    out: dict[int, bytes] = {}
    i = 0
    while i < len(b) and len(out) < len(wanted):
        key, i = _varint(b, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, i = _varint(b, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            n, i = _varint(b, i)
            if i + n > len(b):
                raise ValueError("truncated field")
            if field in wanted and field not in out:
                out[field] = b[i : i + n]
            i += n
        else:
            raise ValueError("unsupported wire type")
    return out


def nodedef_name_and_op(b: bytes) -> tuple[str, str]:
    """(name, op) of a serialized NodeDef; name falls back to the original node name."""
    f = _fields(b, (1, 2, 6))
    name = f.get(1, b"")
    if not name and 6 in f:
        name = _fields(f[6], (1,)).get(1, b"")
    return name.decode("utf-8", errors="replace"), f.get(2, b"").decode("utf-8", errors="replace")


def parse(custom_options: bytes) -> FlexNode | None:
    """Decode Flex custom options; None if they are absent or malformed."""
    if not custom_options:
        return None
    try:
        vec = flexbuffers.GetRoot(bytearray(custom_options)).AsVector
        op = bytes(vec[0].AsStringBytes).decode("utf-8", errors="replace")
        raw = vec[1]
        blob = bytes(raw.AsBlob) if raw.IsBlob else bytes(raw.AsStringBytes)
        name, nd_op = nodedef_name_and_op(blob)
        return FlexNode(op=nd_op or op, name=name)
    except Exception:  # malformed options are data, not a crash  # noqa: BLE001
        return None
