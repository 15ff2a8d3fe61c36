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

import re
from typing import Any, Callable, Iterable

import numpy as np

SCOPE_LIMIT = 10000  # the Quantizer truncates an op scope to this many characters


def op_scope(output_names: Iterable[str]) -> str:
    """The Quantizer's scope string for an op with these output tensor names."""
    names = [n for n in output_names if n]
    return ((";".join(names) + ";") if names else "")[:SCOPE_LIMIT]


def keep_float_regex(scopes: Iterable[str]) -> str | None:
    """One anchored regex matching exactly these op scopes (None for none)."""
    scopes = sorted(set(s for s in scopes if s))
    return "^(?:" + "|".join(re.escape(s) for s in scopes) + ")$" if scopes else None


def quantizer_recipe(mode: str, keep_scopes: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The Quantizer recipe (list of scoped entries, last match wins) for ``mode``."""
    from ai_edge_quantizer import algorithm_manager, qtyping, recipe, recipe_manager

    if mode == "fp16":
        rm = recipe_manager.RecipeManager()
        rm.add_weight_only_config(regex=".*", operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
                                  num_bits=16, algorithm_key=algorithm_manager.AlgorithmName.FLOAT_CASTING)
        entries = rm.get_quantization_recipe()
    elif mode == "dynamic":
        entries = recipe.dynamic_wi8_afp32()
    elif mode == "int8":
        # Graph inputs and outputs stay float32 (the converter's default too): callers keep
        # feeding floats, and the model quantizes them itself.
        entries = list(recipe.static_wi8_ai8()) + [
            {"regex": ".*", "operation": io, "algorithm_key": "no_quantize"} for io in ("INPUT", "OUTPUT")]
    else:
        raise ValueError(f"no Quantizer recipe for mode {mode!r}")
    entries = list(entries)
    if rx := keep_float_regex(keep_scopes):
        entries.append({"regex": rx, "operation": "*", "algorithm_key": "no_quantize"})
    return entries


def quantize_tflite(float_path: str, mode: str, keep_scopes: Iterable[str] = (),
                    calibration: list[dict[str, np.ndarray]] | None = None) -> bytes:
    """Quantized flatbuffer of ``float_path`` in ``mode``. ``calibration``: one ``{input name:
    array}`` per sample, for the model's first signature (int8 only). Raises whatever the
    Quantizer raises."""
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import quantizer

    q = quantizer.Quantizer(float_path)
    q.load_quantization_recipe(quantizer_recipe(mode, keep_scopes))
    cal = None
    if q.need_calibration:
        if not calibration:
            raise ValueError(f"mode {mode} needs calibration samples")
        key = next(iter(Interpreter(model_path=float_path).get_signature_list()))
        cal = q.calibrate({key: calibration}, num_threads=1)
    res = q.quantize(cal, enable_progress_bar=False, enable_progress_report=False)
    return bytes(res.quantized_model)


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
