"""The flatbuffer view agrees with the runtime's own view of the graph, node for node."""

import pytest
from ai_edge_litert.interpreter import Interpreter

from opaudit.errors import ModelFormatError
from opaudit.flatbuf.model import load

ALL = ["flex", "custom", "clean", "clean_dbg", "nms", "map_fn", "td", "where_custom"]


@pytest.mark.parametrize("name", ALL)
def test_nodes_match_runtime(models, name):
    parsed = load(str(models[name]))
    interp = Interpreter(model_path=str(models[name]))
    runtime = [(d["index"], d["op_name"], tuple(int(x) for x in d["inputs"]), tuple(int(x) for x in d["outputs"]))
               for d in interp._get_ops_details()]
    ours = [(o.index, o.op, o.inputs, o.outputs) for o in parsed.operators if o.subgraph == 0]
    assert ours == runtime
    assert len(parsed.subgraphs) == interp.num_subgraphs()


def test_kinds_and_flex_nodedef(models):
    ops = {o.op: o for o in load(str(models["flex"])).operators}
    assert ops["FlexCropAndResize"].kind == "flex"
    assert ops["FlexCropAndResize"].tf_op == "CropAndResize"
    assert ops["FlexCropAndResize"].node_name.endswith("/roi_align_1/CropAndResize")
    assert ops["FlexDenseToDenseSetOperation"].tf_op == "DenseToDenseSetOperation"
    assert ops["CONV_2D"].kind == "builtin"
    custom = {o.op: o for o in load(str(models["custom"])).operators}
    assert custom["CropAndResize"].kind == "custom"


def test_tensors_and_metadata(models):
    p = load(str(models["clean"]))
    assert p.min_runtime_version and p.min_runtime_version[0].isdigit()
    conv_w = [t for t in p.tensors if t.buffer_size == 3 * 3 * 3 * 4 * 4]
    assert conv_w and conv_w[0].dtype == "float32"
    assert p.signatures[0]["key"] == "serving_default"
    assert len(p.sha256) == 64
    dbg = load(str(models["clean_dbg"]))
    assert dbg.debug_metadata and dbg.metadata["debug_metadata"]["size"] > 0


def test_dynamic_shape_signature(models):
    p = load(str(models["map_fn"]))
    x = next(t for t in p.tensors if t.subgraph == 0 and t.index in p.subgraphs[0].inputs)
    assert x.shape_signature == (-1,) and x.is_dynamic


def test_not_a_model(tmp_path):
    for data, words in [(b"", "empty"), (b"hello world, not a model", "not a TFLite model"),
                        (b"\x00" * 3, "not a TFLite model")]:
        f = tmp_path / "x.tflite"
        f.write_bytes(data)
        with pytest.raises(ModelFormatError, match=words):
            load(str(f))
    with pytest.raises(ModelFormatError, match="cannot read"):
        load(str(tmp_path / "missing.tflite"))
    with pytest.raises(ModelFormatError):
        load(str(tmp_path))


def test_large_model_buffer_offsets(models, tmp_path):
    """Buffers stored after the flatbuffer (offset/size, the >2 GiB layout) parse; a file cut
    inside such a buffer is reported as truncated."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    data = models["clean"].read_bytes()
    m = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    blobs = []
    for b in m.buffers:
        if b.data is not None and len(b.data):
            blobs.append(bytes(bytearray(b.data)))
            b.data = None
            b.offset, b.size = 1, len(blobs[-1])  # placeholders, fixed below
        else:
            blobs.append(None)
    builder = flatbuffers.Builder(0)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    head = bytes(builder.Output())
    # second pass with the real offsets (the flatbuffer size does not change)
    pos = len(head)
    pos += (-pos) % 16
    for b, blob in zip(m.buffers, blobs):
        if blob is not None:
            b.offset, b.size = pos, len(blob)
            pos += len(blob)
    builder = flatbuffers.Builder(0)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    head = bytes(builder.Output())
    out = bytearray(head) + b"\0" * ((-len(head)) % 16)
    for blob in blobs:
        if blob is not None:
            out += blob
    f = tmp_path / "large.tflite"
    f.write_bytes(bytes(out))
    p = load(str(f))
    assert [o.op for o in p.operators] == [o.op for o in load(str(models["clean"])).operators]
    assert sum(t.buffer_size for t in p.tensors) == sum(t.buffer_size for t in load(str(models["clean"])).tensors)
    f.write_bytes(bytes(out[:-5]))
    with pytest.raises(ModelFormatError, match="truncated"):
        load(str(f))
