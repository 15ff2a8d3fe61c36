"""The tools that quantize: the LiteRT Quantizer first, the TFLite converter as the fallback.

Worker side (`opaudit.fix.worker` tasks ``quantize`` and ``convert``): these functions import
``ai_edge_quantizer`` or TensorFlow and must not run in the parent process.

* `quantize_tflite` runs the LiteRT Quantizer (``ai-edge-quantizer``) on the float ``.tflite``
  that `fix` made. TF 2.21's docs deprecate the converter's post-training quantization in its
  favour. Layers to keep in float are given as op scopes (the Quantizer's scope of an op is its
  output tensor names joined by ``;`` with a trailing ``;``): they get a ``no_quantize`` entry
  after the mode's own, and the Quantizer honours the last matching entry.
* `configure_converter` sets the converter's own options for the same mode. `fix` uses it when
  the Quantizer raises on the model (ai-edge-quantizer 0.10.0, measured: a conv weight over
  32 MiB, such as an unfused 7x7x256x1024 head, fails its chunked per-channel path with
  "input operand has more dimensions than allowed by the axis remapping"). The converter has
  no per-layer precision for fp16 and dynamic range, so the fallback cannot keep layers float.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

SCOPE_LIMIT = 10000  # the Quantizer truncates an op scope to this many characters
INT8_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "CONV_2D_TRANSPOSE", "BATCH_MATMUL")


def op_scope(output_names: Iterable[str]) -> str:
    """The Quantizer's scope string for an op with these output tensor names."""
    names = [n for n in output_names if n]
    return ((";".join(names) + ";") if names else "")[:SCOPE_LIMIT]


def keep_float_regex(scopes: Iterable[str]) -> str | None:
    """One anchored regex matching exactly these op scopes (None for none)."""
    scopes = sorted({s for s in scopes if s})
    return "^(?:" + "|".join(re.escape(s) for s in scopes) + ")$" if scopes else None


def quantizer_recipe(mode: str, keep_scopes: Iterable[str] = (), dynamic_scopes: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The Quantizer recipe (list of scoped entries, last match wins) for ``mode``: the mode's own
    entries, then dynamic-range int8 for ``dynamic_scopes`` (int8 ops that cannot be calibrated),
    then float for ``keep_scopes``."""
    from ai_edge_quantizer import algorithm_manager, qtyping, recipe, recipe_manager

    if mode == "fp16":
        rm = recipe_manager.RecipeManager()
        rm.add_weight_only_config(regex=".*", operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
                                  num_bits=16, algorithm_key=algorithm_manager.AlgorithmName.FLOAT_CASTING)
        entries = rm.get_quantization_recipe()
    elif mode == "dynamic":
        entries = recipe.dynamic_wi8_afp32()
    elif mode == "int8":
        # int8 weights and activations for the ops that hold the weights and the FLOPs; the rest
        # (box arithmetic, gathers, NMS, packing) stays float32, and so do graph inputs and
        # outputs: callers keep feeding floats. Quantizing every supported op also fails in
        # ai-edge-quantizer 0.10.0 on Mask R-CNN (PACK of a constant: "Ranks of scales (3) and
        # zps (3) must be the same as the tensor rank (1)").
        rm = recipe_manager.RecipeManager()
        for op in INT8_OPS:
            rm.add_static_config(regex=".*", operation_name=getattr(qtyping.TFLOperationName, op),
                                 activation_num_bits=8, weight_num_bits=8)
        entries = rm.get_quantization_recipe()
    else:
        raise ValueError(f"no Quantizer recipe for mode {mode!r}")
    entries = list(entries)
    if rx := keep_float_regex(dynamic_scopes):
        entries += [{**e, "regex": rx} for e in recipe.dynamic_wi8_afp32()]
    if rx := keep_float_regex(keep_scopes):
        entries.append({"regex": rx, "operation": "*", "algorithm_key": "no_quantize"})
    return entries


def uncalibratable_scopes(float_path: str) -> list[str]:
    """Scopes of the ops that read or write a tensor of dynamic shape (``-1`` in its shape
    signature, e.g. the output of WHERE). The runtime cannot return such tensors after
    ``invoke()`` with every tensor kept, so the Quantizer's calibration has no statistics for them
    (ai-edge-quantizer 0.10.0 raises ``KeyError: '<tensor name>'``): int8 quantizes these ops with
    dynamic range (int8 weights, activations quantized by the kernel, no calibration needed)."""
    from opaudit.flatbuf.model import load

    model = load(float_path)
    tensors = {(t.subgraph, t.index): t for t in model.tensors}
    scopes = []
    for o in model.operators:
        touched = [tensors.get((o.subgraph, i)) for i in (*o.inputs, *o.outputs) if i >= 0]
        if any(t is not None and t.is_dynamic for t in touched):
            scopes.append(op_scope(tensors[(o.subgraph, i)].name for i in o.outputs if (o.subgraph, i) in tensors))
    return scopes


def quantize_tflite(float_path: str, mode: str, keep_scopes: Iterable[str] = (),
                    calibration: list[dict[str, np.ndarray]] | None = None,
                    dynamic_scopes: Iterable[str] = (), statistics: str | None = None) -> bytes:
    """Quantized flatbuffer of ``float_path`` in ``mode``. ``calibration``: one ``{input name:
    array}`` per sample, for the model's first signature (int8 only). ``statistics``: a file
    holding the calibration's per-tensor ranges of this float model and samples, reused when it
    exists and written otherwise (calibrating Mask R-CNN COCO takes minutes and ~15 GB; the
    ranges do not depend on which layers stay float). Raises whatever the Quantizer raises."""
    from ai_edge_quantizer import quantizer

    q = quantizer.Quantizer(float_path)
    q.load_quantization_recipe(quantizer_recipe(mode, keep_scopes, dynamic_scopes))
    cal = None
    if q.need_calibration:
        cal = _calibrate(q, float_path, mode, calibration, statistics)
    res = q.quantize(cal, enable_progress_bar=False, enable_progress_report=False)
    return bytes(res.quantized_model)


def _calibrate(q, float_path: str, mode: str, calibration, statistics: str | None) -> dict[str, Any]:
    """The Quantizer's ranges ``{tensor name: {"min": array, "max": array}}``, from ``statistics``
    when that file exists (our own file, written below in this run's private folder)."""
    import pickle

    from ai_edge_litert.interpreter import Interpreter

    if statistics and os.path.isfile(statistics):
        with open(statistics, "rb") as f:
            return pickle.load(f)
    if not calibration:
        raise ValueError(f"mode {mode} needs calibration samples")
    key = next(iter(Interpreter(model_path=float_path).get_signature_list()))
    cal = q.calibrate({key: calibration}, num_threads=1)
    if statistics:
        with open(statistics, "wb") as f:
            pickle.dump(cal, f)
    return cal


def configure_converter(converter, mode: str, representative: Callable[[], Iterable[list[np.ndarray]]] | None) -> None:
    """Set ``converter`` (a builtins-only `TFLiteConverter`) to quantize in ``mode``."""
    import tensorflow as tf

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    elif mode == "int8":
        if representative is None:
            raise ValueError("mode int8 needs calibration samples")
        converter.representative_dataset = representative
        # int8 kernels where they exist, float builtins elsewhere; inputs and outputs stay float.
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    elif mode != "dynamic":
        raise ValueError(f"unknown quantization mode {mode!r}")
