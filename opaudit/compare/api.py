"""`compare_model`: the Python API of `opaudit compare` (builds the model; imports TensorFlow).

MODEL strings are those of `opaudit fix` (`opaudit.modelspec.describe`); models are built by
their kind (`opaudit.model_kinds.load`); samples come from ``samples`` (``file.py:function``),
the model kind, or seeded random inputs shaped like the `.tflite`'s inputs (`opaudit.samples`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from opaudit.compare.metrics import BAR
from opaudit.compare.report import CompareReport
from opaudit.errors import UsageError


def compare_model(model: str, tflite: str | Path, *, config: str = "small", weights: str | None = None,
                  samples: str | None = None, bar: float = BAR, plan: dict[str, list[str]] | None = None,
                  progress: Callable[[str], None] | None = None, keras: str | None = None) -> CompareReport:
    """Compare the Keras ``model`` (a MODEL string) with ``tflite``, layer by layer.

    Raises UsageError / ModelFormatError (exit 2) for a model, file or samples it cannot use.
    ``plan`` (``{layer_path: [rule, ...]}``, e.g. ``fix.json`` ``iterations[-1].plan``) names the
    rule behind a divergent layer. ``keras`` ("2" | "3") overrides the detected Keras version of
    the model (`opaudit.modelspec`); a Keras 2 model needs ``TF_USE_LEGACY_KERAS=1`` before
    TensorFlow is first imported, which this sets when it can (the CLI always can).
    """
    from opaudit.inspect import inspect_model
    from opaudit.modelspec import describe

    tflite = str(tflite)
    report = inspect_model(tflite, probe=False)  # ModelFormatError on a damaged file
    spec = describe(model, config if model == "mrcnn" else None, weights, keras)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.update(spec.env)  # effective only if TensorFlow is not imported yet
    from opaudit import model_kinds
    from opaudit.compare.engine import compare_loaded

    if progress:
        progress(f"building {spec.source}")
    loaded = model_kinds.load(spec)
    if loaded.keras is None:
        raise UsageError("compare needs a Keras model (a SavedModel has no layers to compare)")
    data = load_samples(spec, loaded, samples, report)
    return compare_loaded(loaded.keras, tflite, data, label=spec.source, bar=bar, plan=plan, progress=progress)


def load_samples(spec, loaded, ref: str | None, report) -> list[list[np.ndarray]]:
    """Samples validated against the `.tflite`'s input shapes (UsageError on a mismatch)."""
    from opaudit import model_kinds, samples

    n_inputs = len(loaded.keras.inputs)
    if ref:
        data = samples.from_function(ref, n_inputs)
    else:
        made = model_kinds.get_kind(spec.kind).samples(loaded, samples.N_SAMPLES)
        data = made[0] if made else None
    sig = tflite_signature(loaded.keras, report)
    if data is None:
        data = samples.random_samples(sig)
    return samples.validate(data, sig)


def tflite_signature(keras_model, report) -> list[dict[str, Any]]:
    """The Keras inputs ``[{"name", "shape", "dtype"}]`` with the shapes the `.tflite` was pinned
    to (its SignatureDef inputs by name, else by position; Keras ``None`` dims -> 1 otherwise)."""
    names = [t.name.split(":")[0] for t in keras_model.inputs]
    dtypes = [str(getattr(t.dtype, "name", t.dtype)) for t in keras_model.inputs]
    shapes = [[1 if d is None else int(d) for d in t.shape] for t in keras_model.inputs]
    sig = next((s for s in report.signatures if s.get("subgraph", 0) == 0), None)
    tensors = {t.index: t for t in report.tensors if t.subgraph == 0}
    if sig:
        by_name = {n: list(tensors[i].shape) for n, i in sig["inputs"].items() if i in tensors}
        if all(n in by_name for n in names):
            shapes = [by_name[n] for n in names]
        elif len(by_name) == len(names):
            shapes = list(by_name.values())
    return [{"name": n, "shape": s, "dtype": dt} for n, s, dt in zip(names, shapes, dtypes)]
