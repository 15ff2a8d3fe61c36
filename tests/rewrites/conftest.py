"""Shared helpers for rule tests: convert (builtins only), list TFLite ops, run with LiteRT.

Each rule test builds a tiny Keras model whose layer calls the bad TF API, converts it with and
without the rule, asserts the exact op set, and compares LiteRT with TensorFlow numerically.
"""

from __future__ import annotations

import os
import re
import sys
import types
from typing import Any, Mapping

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _ROOT not in sys.path:  # the repo root, when opaudit is not pip-installed
    sys.path.insert(0, _ROOT)


def convert(model: Any, input_signature: list[Any] | None = None) -> bytes:
    """Convert a Keras model (builtin ops only) and return the flatbuffer bytes.

    With `input_signature` (a list of `tf.TensorSpec`, one per model input, names = input names)
    the model is traced as a tf.function (fast, allows dynamic dims); otherwise
    `from_keras_model` is used (freezes weights). Raises the converter's error.
    """
    import tensorflow as tf

    if input_signature is None:
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
    else:
        fn = tf.function(lambda *xs: model(list(xs) if len(xs) > 1 else xs[0]),
                         input_signature=input_signature)
        converter = tf.lite.TFLiteConverter.from_concrete_functions(
            [fn.get_concrete_function()], trackable_obj=None)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def op_names(tflite: bytes) -> set[str]:
    """Names of the operators used in any subgraph (builtin names, or the custom code)."""
    return set(op_list(tflite))


def op_list(tflite: bytes) -> list[str]:
    """One name per operator node, over all subgraphs (for counting nodes)."""
    from ai_edge_litert import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    model = schema.Model.GetRootAsModel(tflite, 0)
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        custom = oc.CustomCode()
        codes.append(custom.decode() if custom else names[code])
    found = []
    for s in range(model.SubgraphsLength()):
        sg = model.Subgraphs(s)
        for j in range(sg.OperatorsLength()):
            found.append(codes[sg.Operators(j).OpcodeIndex()])
    return found


def run(tflite: bytes, *inputs: np.ndarray) -> list[np.ndarray]:
    """Run the model on `inputs` (in the order of the model's inputs); outputs in order."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=tflite)
    details = sorted(interp.get_input_details(), key=_order)
    for d, x in zip(details, inputs):
        interp.resize_tensor_input(d["index"], list(np.shape(x)), strict=False)
    interp.allocate_tensors()
    for d, x in zip(details, inputs):
        interp.set_tensor(d["index"], np.asarray(x, dtype=d["dtype"]))
    interp.invoke()
    return [_output(interp, d) for d in sorted(interp.get_output_details(), key=_order)]


def _output(interp: Any, detail: Mapping[str, Any]) -> np.ndarray:
    """The output's value; empty outputs are rebuilt from the runtime's shape because the
    binding's get_tensor raises "Invalid tensor size" on some zero-element tensors."""
    if 0 in detail["shape"]:
        return np.zeros(detail["shape"], detail["dtype"])
    return interp.get_tensor(detail["index"])


def _order(detail: Mapping[str, Any]) -> tuple[int, str]:
    """Converter names are `<base>` then `<base>_1`, `<base>_2`... in argument order
    (`xs_0`, `Identity_1`, `serving_default_keras_tensor_3:0`): sort by that number."""
    name = detail["name"].split(":")[0]
    match = re.search(r"_(\d+)$", name)
    return (int(match.group(1)) if match else -1, name)


@pytest.fixture
def lite() -> types.SimpleNamespace:
    """`lite.convert(model, sig)`, `lite.op_names(fb)` / `lite.op_list(fb)`, `lite.run(fb, *inputs)`."""
    return types.SimpleNamespace(convert=convert, op_names=op_names, op_list=op_list, run=run)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
