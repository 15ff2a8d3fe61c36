"""The smallest useful model: `out = a + b` on float32[1] (to time `invoke()` itself)."""

from __future__ import annotations

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema


def one_element_add() -> bytes:
    """A valid `.tflite` (bytes): inputs a, b float32[1], output a + b; one ADD node."""
    tensors = []
    for name in ("a", "b", "out"):
        t = schema.TensorT()
        t.shape, t.type, t.buffer, t.name = np.array([1], np.int32), schema.TensorType.FLOAT32, 0, name
        tensors.append(t)
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1], [2]
    op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.AddOptions, schema.AddOptionsT()
    code = schema.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = schema.BuiltinOperator.ADD, schema.BuiltinOperator.ADD, 1
    sg = schema.SubGraphT()
    sg.tensors, sg.inputs, sg.outputs, sg.operators, sg.name = tensors, [0, 1], [2], [op], "add"
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code], [sg], [schema.BufferT()]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
