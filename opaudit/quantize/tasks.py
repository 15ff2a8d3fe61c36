"""Worker tasks of `fix --quantize` (run by `opaudit.fix.worker`, one fresh process each).

* ``keras_outputs``: the float Keras model's outputs on the saved samples -> ``out`` (npz, keys
  ``"<sample>::<output>"``), computed once per run and reused by every evaluation (a SavedModel:
  its ``serving_default`` signature).
* ``quantize``: the LiteRT Quantizer on ``tflite`` in ``mode`` with ``keep_scopes`` left float
  -> ``out`` (written atomically); calibration samples from ``calibration`` (npz) for int8, where
  ops on dynamically shaped tensors get dynamic-range int8 instead (``dynamic_range_ops``: they
  cannot be calibrated, `backends.uncalibratable_scopes`).
* ``quant_eval``: run each ``.tflite`` of ``models`` on the samples and score it against the
  Keras outputs (`metrics.evaluate`); with ``noise`` = ``[float, quantized]``, also the
  per-layer quantization noise (`opaudit.compare.quant_noise`). No TensorFlow import.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import numpy as np


def _named(task: dict[str, Any], data: list[list[np.ndarray]]) -> list[dict[str, np.ndarray]]:
    names = [s["name"] for s in task["signature"]]
    return [dict(zip(names, inputs)) for inputs in data]


def load_outputs(path: str | Path) -> list[dict[str, np.ndarray]]:
    """``keras_outputs`` npz -> one ``{output name: array}`` per sample, in sample order."""
    with np.load(path) as z:
        per: dict[int, dict[str, np.ndarray]] = {}
        for key in z.files:
            i, name = key.split("::", 1)
            per.setdefault(int(i), {})[name] = z[key]
    return [per[i] for i in sorted(per)]


def do_keras_outputs(task: dict[str, Any]) -> dict[str, Any]:
    from opaudit import atomic, samples
    from opaudit.fix.worker import _keras_outputs, _load, stage

    _, loaded = _load(task)
    data = samples.load(Path(task["workdir"]) / "samples.npz")
    names = [s["name"] for s in task["signature"]]
    arrays = {}
    for i, inputs in enumerate(data):
        stage(f"Keras outputs, sample {i + 1}/{len(data)}")
        if loaded.keras is None:  # a SavedModel: its serving signature, outputs by signature name
            fn = loaded.saved_model.signatures["serving_default"]
            outs = {k: np.asarray(v) for k, v in fn(**dict(zip(names, inputs))).items()}
        else:
            outs = _keras_outputs(loaded.keras, inputs, task.get("outputs") or [])
        for name, value in outs.items():
            arrays[f"{i}::{name}"] = value
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic.write_bytes(task["out"], buf.getvalue())
    return {"status": "ok", "samples": len(data)}


def do_quantize(task: dict[str, Any]) -> dict[str, Any]:
    from opaudit import atomic, samples
    from opaudit.fix.worker import stage
    from opaudit.quantize.backends import quantize_tflite, uncalibratable_scopes

    cal = _named(task, samples.load(task["calibration"])) if task.get("calibration") else None
    keep = list(task.get("keep_scopes") or [])
    forced = uncalibratable_scopes(task["tflite"]) if cal else []
    stage(f"quantizing ({task['mode']}, {len(keep)} ops kept float)")
    t = time.time()
    try:
        data = quantize_tflite(task["tflite"], task["mode"], keep, cal, dynamic_scopes=forced,
                               statistics=task.get("statistics"))
    except Exception as exc:  # noqa: BLE001 - the parent falls back to the converter and says why
        return {"status": "error", "error": f"{type(exc).__name__}: {str(exc)[:400]}", "seconds": round(time.time() - t, 2)}
    atomic.write_bytes(task["out"], data)
    return {"status": "ok", "size": len(data), "seconds": round(time.time() - t, 2), "dynamic_range_ops": len(forced)}


def do_quant_eval(task: dict[str, Any]) -> dict[str, Any]:
    from opaudit import samples
    from opaudit.compare.quant_noise import quantization_noise
    from opaudit.fix.worker import _match_names, signature_runner, stage
    from opaudit.quantize.metrics import evaluate

    keras = load_outputs(task["keras_outputs"])
    data = _named(task, samples.load(Path(task["workdir"]) / "samples.npz"))
    scores = {}
    for path in task["models"]:
        stage(f"evaluating {Path(path).name}")
        runner, input_names = signature_runner(path)
        outs = []
        for k_out, inputs in zip(keras, data):
            tfl = runner(**{n: inputs[n] for n in input_names})
            outs.append({n: np.asarray(v) for n, v in _match_names(k_out, tfl).items()})
        scores[path] = evaluate(keras, outs)
    result: dict[str, Any] = {"status": "ok", "metrics": scores}
    if task.get("noise"):
        stage("per-layer quantization noise")
        result["noise"] = quantization_noise(task["noise"][0], task["noise"][1], data)
    return result


def do_calibration_samples(task: dict[str, Any]) -> dict[str, Any]:
    """Calibration inputs for int8: ``source`` (``file.py:function``, validated against the pinned
    signature like ``--samples``) or, without one, the parity samples -> ``out``."""
    import shutil

    from opaudit import samples
    from opaudit.fix.worker import stage

    if not task.get("source"):
        shutil.copyfile(Path(task["workdir"]) / "samples.npz", task["out"])
        return {"status": "ok", "samples": len(samples.load(task["out"])), "source": "the parity samples"}
    stage(f"calibration samples from {task['source']}")
    data = samples.validate(samples.from_function(task["source"], len(task["signature"])), task["signature"])
    samples.save(task["out"], data)
    return {"status": "ok", "samples": len(data), "source": task["source"]}
