"""Models built here to calibrate the timings: the smallest useful one (`invoke()` overhead)
and one large matrix product (the GFLOP/s the runtime really reaches on this machine)."""

from __future__ import annotations

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema


def tensor(name: str, shape, buffer: int = 0) -> schema.TensorT:
    """A float32 tensor of `shape` reading `buffer` (0: no data)."""
    t = schema.TensorT()
    t.shape, t.type, t.buffer, t.name = np.array(shape, np.int32), schema.TensorType.FLOAT32, buffer, name
    return t


def one_op_model(code: int, options_type: int, options, tensors, inputs, outputs, buffers,
                  custom: str | None = None) -> bytes:
    """A one-subgraph model of one node (builtin `code`, or CUSTOM with `custom` as its code)."""
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, inputs, outputs
    op.builtinOptionsType, op.builtinOptions = options_type, options
    oc = schema.OperatorCodeT()
    oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), 1
    oc.customCode = custom
    sg = schema.SubGraphT()
    sg.tensors, sg.operators, sg.name = tensors, [op], "main"
    sg.inputs, sg.outputs = [i for i in inputs if i >= 0 and tensors[i].buffer == 0], outputs
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [oc], [sg], buffers
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def one_element_add() -> bytes:
    """A valid `.tflite` (bytes): inputs a, b float32[1], output a + b; one ADD node."""
    return one_op_model(schema.BuiltinOperator.ADD, schema.BuiltinOptions.AddOptions, schema.AddOptionsT(),
                         [tensor("a", [1]), tensor("b", [1]), tensor("out", [1])], [0, 1], [2],
                         [schema.BufferT()])


def dense(m: int = 256, k: int = 2048, n: int = 1024, seed: int = 0) -> tuple[bytes, int]:
    """(model, FLOPs per invoke): FULLY_CONNECTED of input float32[m, k] with constant weights
    [n, k] (seeded), no bias; 2*m*k*n FLOPs, compute-bound at these sizes."""
    w = schema.BufferT()
    w.data = np.random.default_rng(seed).standard_normal((n, k)).astype(np.float32).view(np.uint8).ravel()
    tensors = [tensor("x", [m, k]), tensor("w", [n, k], buffer=1), tensor("y", [m, n])]
    model = one_op_model(schema.BuiltinOperator.FULLY_CONNECTED, schema.BuiltinOptions.FullyConnectedOptions,
                          schema.FullyConnectedOptionsT(), tensors, [0, 1, -1], [2], [schema.BufferT(), w])
    return model, 2 * m * k * n
