"""Read the `debug_metadata` buffer that `converter.serialize_debug_metadata = True` adds.

No Python bindings ship for its schema (`debug_metadata.fbs` in the TF sources), and it is a
small one, so this reads it with bounds-checked offsets. Layout facts used: the root
`DebugMetadata` holds a union vector whose `ConversionDebugMetadata` entry has
`subgraphs_debug_metadata` (per subgraph, per operator: indexes into `attributes`) and
`attributes`, a union vector of `Location`s (CallSite, FileLineCol, Fused, Name, Opaque,
Unknown). `Operator.debug_metadata_index` indexes the subgraph's operator list.

We want, per node, the scoped TF op name: follow CallSite callees and Fused members to the first
`NameLoc` naming a scope (`sequential_1/head_1/MatMul@__inference_function_1978`), and drop the
`@function` part. Debug metadata is a hint: anything malformed yields no names, never an error.
"""

from __future__ import annotations

import struct

_CALLSITE, _FILELINE, _FUSED, _NAME = 1, 2, 3, 4
_LOCATION_ATTR = 1


class _Reader:
    def __init__(self, b: bytes):
        self.b = b

    def _get(self, fmt: str, o: int) -> int:
        if o < 0 or o + struct.calcsize(fmt) > len(self.b):
            raise ValueError("offset out of range")
        return struct.unpack_from(fmt, self.b, o)[0]

    def field(self, t: int, slot: int) -> int | None:
        vt = t - self._get("<i", t)
        if slot + 2 > self._get("<H", vt):
            return None
        off = self._get("<H", vt + slot)
        return t + off if off else None

    def ref(self, o: int) -> int:
        return o + self._get("<I", o)

    def u32(self, t: int, slot: int) -> int:
        f = self.field(t, slot)
        return self._get("<I", f) if f is not None else 0

    def u8(self, t: int, slot: int) -> int:
        f = self.field(t, slot)
        return self._get("<B", f) if f is not None else 0

    def vector(self, t: int, slot: int, elem: int = 4) -> list[int]:
        f = self.field(t, slot)
        if f is None:
            return []
        v = self.ref(f)
        n = self._get("<I", v)
        if v + 4 + n * elem > len(self.b):
            raise ValueError("vector out of range")
        return [v + 4 + elem * i for i in range(n)]

    def string(self, t: int, slot: int) -> str:
        f = self.field(t, slot)
        if f is None:
            return ""
        s = self.ref(f)
        n = self._get("<I", s)
        if s + 4 + n > len(self.b):
            raise ValueError("string out of range")
        return self.b[s + 4 : s + 4 + n].decode("utf-8", errors="replace")


def _scoped_name(r: _Reader, attrs: list[tuple[int, int]], start: int) -> str | None:
    todo, seen = [start], set()
    while todo:
        i = todo.pop(0)
        if i in seen or not 0 <= i < len(attrs) or len(seen) > 64:
            continue
        seen.add(i)
        kind, table = attrs[i]
        if kind != _LOCATION_ATTR:
            continue
        ltype, loc_f = r.u8(table, 4), r.field(table, 6)
        if loc_f is None:
            continue
        loc = r.ref(loc_f)
        if ltype == _NAME:
            name = r.string(loc, 4).split("@", 1)[0]
            if "/" in name:
                return name
            if r.field(loc, 6) is not None:
                todo.append(r.u32(loc, 6))
        elif ltype == _CALLSITE:
            todo.append(r.u32(loc, 4))  # the callee holds the op's own name
        elif ltype == _FUSED:
            todo.extend(r._get("<I", p) for p in r.vector(loc, 4))
    return None


def node_names(parsed) -> dict[tuple[int, int], str]:
    """(subgraph, node) -> scoped TF name from the debug metadata; {} when absent or malformed."""
    if not parsed.debug_metadata:
        return {}
    try:
        r = _Reader(parsed.debug_metadata)
        root = r.ref(0)
        types = [r._get("<B", p) for p in r.vector(root, 4, 1)]
        values = r.vector(root, 6)
        if not types or types[0] != 1 or not values:
            return {}
        conv = r.ref(values[0])
        subs = [r.ref(p) for p in r.vector(conv, 4)]
        atypes = [r._get("<B", p) for p in r.vector(conv, 6, 1)]
        attrs = list(zip(atypes, (r.ref(p) for p in r.vector(conv, 8))))
        op_attrs = [[[r._get("<I", q) for q in r.vector(r.ref(p), 4)] for p in r.vector(s, 4)] for s in subs]
        return _per_node(parsed, op_attrs, lambda i: _scoped_name(r, attrs, i))
    except (ValueError, struct.error, IndexError):
        return {}


def _per_node(parsed, op_attrs: list[list[list[int]]], name_of) -> dict[tuple[int, int], str]:
    out = {}
    for (s, i), d in parsed.debug_index.items():
        if s < len(op_attrs) and 0 <= d < len(op_attrs[s]):
            for a in op_attrs[s][d]:
                name = name_of(a)
                if name:
                    out[(s, i)] = name
                    break
    return out
