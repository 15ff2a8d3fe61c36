"""The TensorFlow side of `opaudit fix`, run as ``python -m opaudit.fix.worker TASK.json``.

Each task runs in a fresh process (conversions can hang, crash or take gigabytes); the parent
(`supervisor.py`) runs it with a timeout. The task JSON names ``task`` (prepare | convert |
parity | compare), the model ``spec`` (`ModelSpec.to_dict()`), ``workdir``, ``stage_file`` and ``result``;
the worker writes its stage to ``stage_file`` as it goes and its result JSON to ``result``.

* prepare: build the model, save its weights (so every later process uses the same ones),
  make and validate samples, pin the input signature, pre-audit the graph.
* convert: rebuild, apply ``plan`` with `rewrites.applied`, convert builtins-only, write ``out``
  atomically; or return the converter's structured errors mapped to layers.
* parity: run Keras and the .tflite on the saved samples and compare (`parity.py`).
* compare: after a parity failure, layer by layer (`opaudit.compare`): divergent or ill-conditioned.
* keras_outputs, quantize, quant_eval: `fix --quantize` (`opaudit.quantize.tasks`). A convert task
  with ``quantize`` = ``{"mode", "calibration"}`` quantizes through the converter instead.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_STAGE: Path | None = None


def stage(text: str) -> None:
    """Tell the parent what this process is doing (shown live; named on a timeout or crash)."""
    if _STAGE is not None:
        _STAGE.write_text(text)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _load(task: dict[str, Any]):
    """Build the task's model (`LoadedModel`); after prepare, with the weights prepare saved."""
    from opaudit import model_kinds
    from opaudit.modelspec import ModelSpec

    stage("importing tensorflow")
    import tensorflow  # noqa: F401

    spec = ModelSpec.from_dict(task["spec"])
    stage(f"building model {spec.source}")
    loaded = model_kinds.load(spec)
    weights = Path(task["workdir"]) / "model.weights.h5"
    if loaded.keras is not None and task["task"] != "prepare" and weights.exists():
        loaded.keras.load_weights(str(weights))
    return spec, loaded


def _rewrites(task):
    import rewrites

    if task.get("rules"):
        rewrites.load_rules(task["rules"])
    return rewrites


def _samples(task, spec, loaded) -> tuple[list[list[np.ndarray]] | None, str]:
    from opaudit import model_kinds, samples

    n_inputs = len(loaded.keras.inputs) if loaded.keras is not None else None
    if task.get("samples"):
        return samples.from_function(task["samples"], n_inputs or 1), f"samples from {task['samples']}"
    made = model_kinds.get_kind(spec.kind).samples(loaded, samples.N_SAMPLES)
    return made if made else (None, "")


def do_prepare(task: dict[str, Any]) -> dict[str, Any]:
    from opaudit import modelspec, samples
    from opaudit.fix import preaudit

    spec, loaded = _load(task)
    work = Path(task["workdir"])
    if loaded.keras is not None:
        loaded.keras.save_weights(str(work / "model.weights.h5"))
    stage("making samples")
    data, note = _samples(task, spec, loaded)
    sig = modelspec.signature(loaded.keras, loaded.saved_model, data)
    if data is None:
        data, note = samples.random_samples(sig), f"{samples.N_SAMPLES} seeded random inputs (seed {samples.SEED})"
    samples.save(work / "samples.npz", samples.validate(data, sig))
    result: dict[str, Any] = {"signature": sig, "samples": len(data), "samples_note": note,
                              "weights_report": loaded.weights_report,
                              "layers": [], "pre_audit": {"findings": [], "layer_rules": {}}}
    if loaded.keras is None:
        result["pre_audit"]["note"] = "SavedModel: no Keras layers, layer rules cannot apply"
        return result
    rw = _rewrites(task)
    paths = rw.layer_index(loaded.keras)
    result["layers"] = sorted(paths)
    result["outputs"] = modelspec.output_names(loaded.keras)
    stage("tracing the TF graph (pre-audit)")
    t = time.time()
    try:
        result["pre_audit"] = preaudit.run(loaded.keras, sig, paths, rw)
    except Exception as exc:  # noqa: BLE001 - the loop still finds blockers by converting
        result["pre_audit"]["note"] = f"pre-audit could not trace the model: {type(exc).__name__}: {exc}"
    result["pre_audit"]["seconds"] = round(time.time() - t, 2)
    return result


def do_convert(task: dict[str, Any]) -> dict[str, Any]:
    from opaudit import atomic
    from opaudit.fix import converter_errors

    spec, loaded = _load(task)
    plan = task.get("plan") or {}
    if loaded.keras is None and plan:
        return {"status": "error", "seconds": 0.0, "errors": [{
            "code": "NO_KERAS_LAYERS", "op": None, "tf_op": None, "location": None, "calls": [],
            "layer": None, "message": "SavedModel input: rules need Keras layers"}]}
    rw = _rewrites(task) if loaded.keras is not None else None
    paths = set(rw.layer_index(loaded.keras)) if rw else set()
    records: list[dict[str, Any]] = []
    t = time.time()
    try:
        data = _convert(task, spec, loaded, plan, rw, records)
    except Exception as exc:  # noqa: BLE001 - every converter failure becomes structured data
        return {"status": "error", "seconds": round(time.time() - t, 2),
                "errors": converter_errors.parse_errors(exc, paths), "record": _jsonable(records),
                "peak_rss_mb": round(peak_rss_mb())}
    stage("writing .tflite")
    atomic.write_bytes(task["out"], data)
    return {"status": "ok", "seconds": round(time.time() - t, 2), "size": len(data), "errors": [],
            "record": _jsonable(records), "peak_rss_mb": round(peak_rss_mb())}


def _convert(task, spec, loaded, plan, rw, records: list) -> bytes:
    """Convert builtins-only, with ``plan`` applied; ``records`` receives the rule records."""
    import contextlib

    import tensorflow as tf

    from opaudit.fix.converter import pinned_converter

    stage(f"converting with plan {sorted(plan)}" if plan else "converting")
    if loaded.keras is None:
        converter = tf.lite.TFLiteConverter.from_saved_model(spec.path)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if task.get("quantize"):
            _quantize_options(converter, task["quantize"])
        return converter.convert()
    rules = rw.applied(loaded.keras, plan) if plan else contextlib.nullcontext([])
    with rules as record, pinned_converter(loaded.keras, task["signature"]) as converter:
        records.extend(record)
        if task.get("quantize"):
            _quantize_options(converter, task["quantize"])
        return converter.convert()


def _quantize_options(converter, options: dict[str, Any]) -> None:
    """`fix --quantize` through the converter (the LiteRT Quantizer's fallback)."""
    from opaudit import samples
    from opaudit.quantize.backends import configure_converter

    cal = samples.load(options["calibration"]) if options.get("calibration") else None
    configure_converter(converter, options["mode"], (lambda: iter(cal)) if cal else None)


def _keras_outputs(model, inputs: list[np.ndarray], names: list[str]) -> dict[str, np.ndarray]:
    out = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    if isinstance(out, dict):
        return {k: np.asarray(v) for k, v in out.items()}
    if not isinstance(out, (list, tuple)):
        out = [out]
    return {n: np.asarray(v) for n, v in zip(names, out)}


def signature_runner(tflite: str):
    """(runner, its input names) of the model's first signature (the one `fix` exports)."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=tflite)
    key, entry = next(iter(interp.get_signature_list().items()))
    return interp.get_signature_runner(key), list(entry["inputs"])


def do_parity(task: dict[str, Any]) -> dict[str, Any]:
    from opaudit import samples
    from opaudit.fix import parity

    _, loaded = _load(task)
    data = samples.load(Path(task["workdir"]) / "samples.npz")
    stage("running TFLite")
    runner, input_names = signature_runner(task["tflite"])
    names = [s["name"] for s in task["signature"]]
    per_sample, note = [], "outputs matched by SignatureDef output name"
    for i, inputs in enumerate(data):
        stage(f"parity sample {i + 1}/{len(data)}")
        tfl = runner(**{k: inputs[names.index(k)] for k in input_names})
        if loaded.keras is None:
            fn = loaded.saved_model.signatures["serving_default"]
            ref = {k: np.asarray(v) for k, v in fn(**dict(zip(names, inputs))).items()}
        else:
            ref = _keras_outputs(loaded.keras, inputs, task.get("outputs") or [])
            renamed = _match_names(ref, tfl)
            if renamed is not tfl:
                tfl = renamed
                note = "list outputs: SignatureDef output_i is Keras output i (shapes checked)"
        per_sample.append(parity.compare_outputs(ref, {k: np.asarray(v) for k, v in tfl.items()}))
    outputs = parity.merge_samples(per_sample)
    return {"status": "ok", "passed": all(o["passed"] for o in outputs), "samples": len(data),
            "bar": parity.BAR, "matching": note, "outputs": outputs}


def do_compare(task: dict[str, Any]) -> dict[str, Any]:
    """Layer-by-layer compare (`opaudit.compare`) of the original Keras model and ``tflite``."""
    from opaudit import samples
    from opaudit.compare.engine import compare_loaded

    spec, loaded = _load(task)
    if loaded.keras is None:
        return {"status": "error", "error": "SavedModel input: no Keras layers to compare"}
    data = samples.load(Path(task["workdir"]) / "samples.npz")
    report = compare_loaded(loaded.keras, task["tflite"], data, label=spec.source, plan=task.get("plan"),
                            progress=stage)
    return {"status": "ok", "report": _jsonable(report.to_dict())}


def _match_names(ref: dict[str, np.ndarray], tfl: dict[str, Any]) -> dict[str, Any]:
    """Rename SignatureDef outputs ``output_0..n`` to the Keras output names (same order and
    shapes: Keras 3 export lists a list-output model's outputs in call order)."""
    if set(ref) == set(tfl) or len(ref) != len(tfl):
        return tfl
    keys = [f"output_{i}" for i in range(len(ref))]
    if not all(k in tfl for k in keys):
        return tfl
    if any(np.shape(tfl[k]) != np.shape(v) for k, v in zip(keys, ref.values())):
        return tfl
    return {name: tfl[k] for name, k in zip(ref, keys)}


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


def _quant_task(name: str):
    def run(task: dict[str, Any]) -> dict[str, Any]:
        from opaudit.quantize import tasks

        return getattr(tasks, f"do_{name}")(task)
    return run


TASKS = {"prepare": do_prepare, "convert": do_convert, "parity": do_parity, "compare": do_compare,
         **{name: _quant_task(name) for name in ("keras_outputs", "quantize", "quant_eval", "calibration_samples")}}


def main(argv: list[str]) -> int:
    global _STAGE
    task = json.loads(Path(argv[0]).read_text())
    _STAGE = Path(task["stage_file"])
    try:
        result = TASKS[task["task"]](task)
    except Exception as exc:  # noqa: BLE001 - reported to the parent as data
        from opaudit.errors import UsageError

        result = {"status": "usage" if isinstance(exc, UsageError) else "failed",
                  "error": f"{type(exc).__name__}: {exc}" if not isinstance(exc, UsageError) else str(exc),
                  "traceback": traceback.format_exc()[-4000:]}
    result.setdefault("peak_rss_mb", round(peak_rss_mb()))
    Path(task["result"]).write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
