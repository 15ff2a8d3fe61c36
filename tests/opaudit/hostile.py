"""Write a real `.tflite` whose every name is hostile (for the end-to-end renderer tests).

`write_hostile(src, dst)` reads a small converted model with the generated object API
(`ai_edge_litert.schema_py_generated.ModelT`), replaces its tensor names, custom op codes,
signature key and input/output names, subgraph name and description with hostile strings, adds a
metadata entry whose name and value are hostile, and packs it again (`flatbuffers.Builder`,
file identifier `TFL3`). Only names change: graph, buffers and shapes stay as converted, so the
file still loads in the runtime (and fails there exactly as the source did, on its custom ops).

Meant for the `custom` model of tests/opaudit/models.py: outputs of its two custom ops
(CropAndResize, DenseToDenseSetOperation) get scoped names `demo_1/<hostile>_1/<op>`, so the
hostile text also becomes the Keras layer of the nodes that cannot run.
"""

from __future__ import annotations

from pathlib import Path

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=2">'
SQL = '"; DROP TABLE models; --'
NON_ASCII = "名前/слой/🙂"
RICH = "[bold red]x[/] [link=http://evil]y[/link]"
# CSI colour, OSC window title (ESC ] ... BEL), clear screen, and the 8-bit C1 CSI (U+009B).
ANSI = "\x1b[31mRED\x1b[0m\x1b]0;pwned\x07\x1b[2J\u009b2Jz"
WHITESPACE = "line1\nline2\r\n\tTabbed\vend"
CLOSERS = "</textarea></title></style>]]><!-- --></pre>"
TEMPLATE = "{{7*7}}${7*7}%s%n{0}"
# A layer scope: no '/', ':' or ';' (they delimit scoped names), still markup, ANSI and HTML.
LAYER = '[bold red]L[link=evil]y\x1b[31mR\u009b2J<img src=x onerror="window.__pwned=3">'
LONG_PREFIX, LONG_SUFFIX = "demo_1/", "_1/CropAndResize"
LONG = LONG_PREFIX + "L" * (20_000 - len(LONG_PREFIX) - len(LONG_SUFFIX)) + LONG_SUFFIX  # 20,000 chars

CUSTOM_CODES = {
    "CropAndResize": "Evil<svg onload=alert(1)>Op",
    "DenseToDenseSetOperation": "Op[bold red]x[/][link=http://evil]y[/link]\x1b[31mRED\x1b]0;pwned\x07",
}
SIGNATURE_KEY = "<script>window.__pwned=4</script>sig\x1b[31m[bold red]k[/]"
SUBGRAPH_NAME = "main<script>window.__pwned=8</script>[bold red]g[/]"
DESCRIPTION = "<img src=x onerror=\"window.__pwned=9\">\x1b[2J[link=http://evil]d[/link]"
META_NAME = "<script>window.__pwned=6</script>[bold red]meta[/]\x1b[31m"
META_VALUE = '<img src=x onerror="window.__pwned=7">\x1b]0;pwned\x07 [link=http://evil]v[/link] ]]>'

# Hostile names for tensors, by original name (the `custom` model's names, see models.py).
_BY_NAME = {
    "serving_default_boxes:0": '"><script>window.__pwned=10</script>',
    "serving_default_image:0": "[bold red]image[/]\x1b[31m",
    "demo_1/roi_align_1/Reshape": SCRIPT,
    "demo_1/backbone_conv_1/convolution1": IMG,
    "StatefulPartitionedCall_1:0": LONG,  # output of the CropAndResize custom op
    "demo_1/flatten_1/Reshape": SQL,
    "demo_1/set_layer_1/ArgMax": NON_ASCII,
    "demo_1/set_layer_1/Cast": RICH,
    "demo_1/set_layer_1/ExpandDims1": ANSI,
    "demo_1/set_layer_1/DenseToDenseSetOperation": f"demo_1/{LAYER}_1/DenseToDenseSetOperation",
    "demo_1/set_layer_1/DenseToDenseSetOperation1": CLOSERS,
    "demo_1/set_layer_1/DenseToDenseSetOperation2": WHITESPACE,
    "demo_1/set_layer_1/SparseToDense": TEMPLATE,
}
# Signature input / output names, by original name.
_SIG_NAMES = {"boxes": IMG, "image": RICH, "output_0": CLOSERS, "output_1": NON_ASCII}


def _s(b) -> str:
    return b.decode("utf-8") if isinstance(b, bytes) else (b or "")


def write_hostile(src: Path, dst: Path) -> dict:
    """Rewrite the names of model `src` (a converted .tflite, e.g. the `custom` test model) into
    `dst`. Returns the hostile strings used: {"tensors": {index: name} (subgraph 0),
    "custom_codes": [..], "signature_key", "signature_inputs", "signature_outputs",
    "subgraph_name", "description", "metadata": {name: value}, "long": the 20,000-char name,
    "layer": the hostile layer scope}. Raises ValueError if `src` lacks the expected names."""
    m = schema.ModelT.InitFromPackedBuf(Path(src).read_bytes(), 0)
    sg = m.subgraphs[0]
    tensors = {}
    for i, t in enumerate(sg.tensors):
        new = _BY_NAME.get(_s(t.name))
        if new is not None:
            t.name = new.encode("utf-8")
            tensors[i] = new
    if len(tensors) != len(_BY_NAME):
        raise ValueError(f"{src}: expected the tensor names of the `custom` test model, renamed {len(tensors)}")
    sg.name = SUBGRAPH_NAME.encode("utf-8")
    codes = []
    for c in m.operatorCodes:
        new = CUSTOM_CODES.get(_s(c.customCode))
        if new is not None:
            c.customCode = new.encode("utf-8")
            codes.append(new)
    if sorted(codes) != sorted(CUSTOM_CODES.values()):
        raise ValueError(f"{src}: expected custom ops {sorted(CUSTOM_CODES)}")
    sig = m.signatureDefs[0]
    sig.signatureKey = SIGNATURE_KEY.encode("utf-8")
    for item in (*sig.inputs, *sig.outputs):
        item.name = _SIG_NAMES[_s(item.name)].encode("utf-8")
    m.description = DESCRIPTION.encode("utf-8")
    buf = schema.BufferT()
    buf.data = np.frombuffer(META_VALUE.encode("utf-8"), dtype=np.uint8)
    m.buffers.append(buf)
    meta = schema.MetadataT()
    meta.name, meta.buffer = META_NAME.encode("utf-8"), len(m.buffers) - 1
    m.metadata.append(meta)
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    Path(dst).write_bytes(bytes(b.Output()))
    return {
        "tensors": tensors, "custom_codes": codes, "signature_key": SIGNATURE_KEY,
        "signature_inputs": [_s(i.name) for i in sig.inputs],
        "signature_outputs": [_s(o.name) for o in sig.outputs],
        "subgraph_name": SUBGRAPH_NAME, "description": DESCRIPTION, "metadata": {META_NAME: META_VALUE},
        "long": LONG, "layer": LAYER,
    }
