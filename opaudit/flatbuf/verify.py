"""Bounds-check a TFLite flatbuffer before the generated bindings read it.

The generated Python bindings trust every offset they read: on a damaged file they raise
`struct.error`, return garbage, or loop over a vector whose length field says four billion.
`verify()` walks exactly the tables and fields that opaudit reads, checking that every
vtable, table, vector and string lies inside the buffer, and raises `ModelFormatError`
with a one-line reason otherwise. Shared sub-tables are visited once (memoized), so a
hostile file cannot make verification quadratic.

Layout facts used (FlatBuffers binary format): a table starts with an int32 soffset to its
vtable (`vtable = table - soffset`); a vtable is uint16 `[vtable_size, table_size,
field_offset...]`; a field offset of 0 means "absent"; a reference field holds a uint32
offset relative to its own position; vectors and strings are a uint32 length followed by
the elements (strings also by a NUL byte).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from opaudit.errors import ModelFormatError

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")

# Field kinds: ("scalar", size) | ("string",) | ("vector", elem_size) | ("tables", spec) | ("table", spec)
# A spec is {vtable_slot: (field_name, kind)}; the slot is the byte offset used by the bindings.


@dataclass(frozen=True)
class _K:
    kind: str
    size: int = 0
    spec: object = None


def scalar(n: int) -> _K:
    return _K("scalar", n)


STRING = _K("string")


def vector(elem: int) -> _K:
    return _K("vector", elem)


def tables(spec: str) -> _K:
    return _K("tables", spec=spec)


def table(spec: str) -> _K:
    return _K("table", spec=spec)


# Only the fields opaudit reads. Unknown/new fields are ignored, so newer schemas still parse.
SPECS: dict[str, dict[int, tuple[str, _K]]] = {
    "Model": {
        4: ("version", scalar(4)),
        6: ("operator_codes", tables("OperatorCode")),
        8: ("subgraphs", tables("SubGraph")),
        10: ("description", STRING),
        12: ("buffers", tables("Buffer")),
        14: ("metadata_buffer", vector(4)),
        16: ("metadata", tables("Metadata")),
        18: ("signature_defs", tables("SignatureDef")),
    },
    "OperatorCode": {
        4: ("deprecated_builtin_code", scalar(1)),
        6: ("custom_code", STRING),
        8: ("version", scalar(4)),
        10: ("builtin_code", scalar(4)),
    },
    "SubGraph": {
        4: ("tensors", tables("Tensor")),
        6: ("inputs", vector(4)),
        8: ("outputs", vector(4)),
        10: ("operators", tables("Operator")),
        12: ("name", STRING),
        14: ("debug_metadata_index", scalar(4)),
    },
    "Tensor": {
        4: ("shape", vector(4)),
        6: ("type", scalar(1)),
        8: ("buffer", scalar(4)),
        10: ("name", STRING),
        12: ("quantization", table("QuantizationParameters")),
        14: ("is_variable", scalar(1)),
        18: ("shape_signature", vector(4)),
    },
    "QuantizationParameters": {
        4: ("min", vector(4)),
        6: ("max", vector(4)),
        8: ("scale", vector(4)),
        10: ("zero_point", vector(8)),
        16: ("quantized_dimension", scalar(4)),
    },
    "Operator": {
        4: ("opcode_index", scalar(4)),
        6: ("inputs", vector(4)),
        8: ("outputs", vector(4)),
        14: ("custom_options", vector(1)),
        22: ("large_custom_options_offset", scalar(8)),
        24: ("large_custom_options_size", scalar(8)),
        30: ("debug_metadata_index", scalar(4)),
    },
    "Buffer": {
        4: ("data", vector(1)),
        6: ("offset", scalar(8)),
        8: ("size", scalar(8)),
    },
    "Metadata": {4: ("name", STRING), 6: ("buffer", scalar(4))},
    "SignatureDef": {
        4: ("inputs", tables("TensorMap")),
        6: ("outputs", tables("TensorMap")),
        8: ("signature_key", STRING),
        12: ("subgraph_index", scalar(4)),
    },
    "TensorMap": {4: ("name", STRING), 6: ("tensor_index", scalar(4))},
}

# TFLite's file identifier, at bytes 4..8 (may be absent in very old files).
FILE_IDENTIFIER = b"TFL3"


class _Walker:
    def __init__(self, buf, size: int):
        self.buf = buf
        self.size = size
        self.seen: set[tuple[int, str]] = set()

    def _fail(self, what: str, where: str) -> ModelFormatError:
        return ModelFormatError(f"damaged flatbuffer: {what} at {where}")

    def u32(self, pos: int, where: str) -> int:
        if pos < 0 or pos + 4 > self.size:
            raise self._fail(f"offset {pos} outside the {self.size}-byte buffer", where)
        return _U32.unpack_from(self.buf, pos)[0]

    def ref(self, pos: int, where: str) -> int:
        """Follow a uoffset stored at `pos`; return the absolute target position."""
        target = pos + self.u32(pos, where)
        if target + 4 > self.size:
            raise self._fail(f"reference to {target} past the end ({self.size})", where)
        return target

    def vector_span(self, pos: int, elem: int, where: str) -> int:
        n = self.u32(pos, where)
        if pos + 4 + n * elem > self.size:
            raise self._fail(f"vector of {n} x {elem} bytes runs past the end", where)
        return n

    def table(self, pos: int, spec_name: str, where: str) -> None:
        key = (pos, spec_name)
        if key in self.seen:
            return
        self.seen.add(key)
        if pos < 0 or pos + 4 > self.size:
            raise self._fail(f"{spec_name} table offset {pos} out of range", where)
        vt = pos - _I32.unpack_from(self.buf, pos)[0]
        if vt < 0 or vt + 4 > self.size:
            raise self._fail(f"{spec_name} vtable offset {vt} out of range", where)
        vt_size, tbl_size = _U16.unpack_from(self.buf, vt)[0], _U16.unpack_from(self.buf, vt + 2)[0]
        if vt_size < 4 or vt_size % 2 or vt + vt_size > self.size or pos + tbl_size > self.size:
            raise self._fail(f"{spec_name} vtable/table size out of range", where)
        for slot, (field, k) in SPECS[spec_name].items():
            if slot + 2 > vt_size:
                continue  # field not present in this (older) vtable
            off = _U16.unpack_from(self.buf, vt + slot)[0]
            if off == 0:
                continue
            fpos = pos + off
            here = f"{where}.{field}"
            if k.kind == "scalar":
                if off + k.size > tbl_size or fpos + k.size > self.size:
                    raise self._fail("scalar outside its table", here)
                continue
            if off + 4 > tbl_size:
                raise self._fail("reference outside its table", here)
            target = self.ref(fpos, here)
            if k.kind == "string":
                n = self.vector_span(target, 1, here)
                if target + 4 + n >= self.size + 1:
                    raise self._fail("string terminator past the end", here)
            elif k.kind == "vector":
                self.vector_span(target, k.size, here)
            elif k.kind == "table":
                self.table(target, k.spec, here)
            elif k.kind == "tables":
                n = self.vector_span(target, 4, here)
                for i in range(n):
                    self.table(self.ref(target + 4 + 4 * i, here), k.spec, f"{here}[{i}]")


def verify(buf, size: int) -> int:
    """Check the flatbuffer in `buf[:size]`; return the root table position.

    Args:
      buf: a bytes-like object (bytes, mmap) holding at least `size` bytes.
      size: number of bytes that belong to the file.
    Returns:
      Position of the root `Model` table.
    Raises:
      ModelFormatError: the bytes are not a TFLite flatbuffer, or an offset/size is out of range.
    """
    if size < 8:
        raise ModelFormatError(f"not a TFLite model: file is {size} bytes long")
    ident = bytes(buf[4:8])
    if ident != FILE_IDENTIFIER:
        raise ModelFormatError(
            f"not a TFLite model: file identifier is {ident!r}, expected {FILE_IDENTIFIER!r}"
        )
    w = _Walker(buf, size)
    root = w.ref(0, "root")
    w.table(root, "Model", "Model")
    return root
