"""The TensorFlow side of `opaudit fix`, run as ``python -m opaudit.fix.worker TASK.json``.

Each task runs in a fresh process (conversions can hang, crash or take gigabytes); the parent
(`runner.py`) supervises it. The task JSON names ``task`` (prepare | convert | parity), the model
``spec`` (see `sources.describe`), ``workdir``, ``stage_file`` and ``result``; the worker writes
its stage to ``stage_file`` as it goes and its result JSON to ``result``.

* prepare: build the model, save its weights (so every later process uses the same ones),
  pick samples and the pinned input signature, pre-audit the graph.
* convert: rebuild, apply ``plan`` with `rewrites.applied`, convert builtins-only, write ``out``
  atomically, or return the converter's structured errors mapped to layers.
* parity: run Keras and the .tflite on the saved samples and compare (`parity.py`).
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
    if _STAGE is not None:
        _STAGE.write_text(text)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _load(task: dict[str, Any]):
    from opaudit.fix import sources

    stage("importing tensorflow")
    import tensorflow  # noqa: F401

    stage(f"building model {task['spec']['source']}")
    model, extra = sources.load(task["spec"])
    weights = Path(task["workdir"]) / "model.weights.h5"
    if model is not None and task["task"] != "prepare" and weights.exists():
        model.load_weights(str(weights))
    return model, extra


def _rewrites(task):
    try:
        import rewrites
    except ImportError:
        return None
    if task.get("rules"):
        rewrites.load_rules(task["rules"])
    return rewrites


def do_prepare(task: dict[str, Any]) -> dict[str, Any]:
    from opaudit.fix import preaudit, samples, sources

    model, extra = _load(task)
    work = Path(task["workdir"])
    if model is not None:
        model.save_weights(str(work / "model.weights.h5"))
    stage("making samples")
    data, note = samples.build(task["spec"], task.get("samples"), extra)
    sig = sources.signature(model, extra, data)
    if data is None:
        data, note = samples.random_samples(sig), f"{samples.N_SAMPLES} seeded random inputs (seed {samples.SEED})"
    np.savez(work / "samples.npz", **{f"s{i}_{j}": a for i, s in enumerate(data) for j, a in enumerate(s)})
    result: dict[str, Any] = {"signature": sig, "samples": len(data), "samples_note": note,
                              "layers": [], "pre_audit": {"findings": [], "layer_rules": {}}}
    if model is None:
        result["pre_audit"]["note"] = "SavedModel: no Keras layers, layer rules cannot apply"
        return result
    rw = _rewrites(task)
    from rewrites import layer_index

    paths = layer_index(model)
    result["layers"] = sorted(paths)
    result["outputs"] = sources.output_names(model)
    stage("tracing the TF graph (pre-audit)")
    t = time.time()
    try:
        result["pre_audit"] = preaudit.run(model, sig, paths, rw)
    except Exception as exc:  # noqa: BLE001 - the loop still finds blockers by converting
        result["pre_audit"]["note"] = f"pre-audit could not trace the model: {type(exc).__name__}: {exc}"
    result["pre_audit"]["seconds"] = round(time.time() - t, 2)
    return result


def do_convert(task: dict[str, Any]) -> dict[str, Any]:
    import contextlib

    import tensorflow as tf

    from opaudit import atomic
    from opaudit.fix import errors
    from opaudit.fix.convert import converter_for

    if task.get("sleep"):  # test hook: a converter that hangs
        stage("converting (sleeping)")
        time.sleep(float(task["sleep"]))
    if task.get("abort"):  # test hook: a converter that crashes the process
        stage("converting (aborting)")
        os.abort()
    model, extra = _load(task)
    plan = task.get("plan") or {}
    record: Any = []
    t = time.time()
    if model is None:
        if plan:
            return {"status": "error", "seconds": 0.0, "errors": [{
                "code": "NO_KERAS_LAYERS", "op": None, "tf_op": None, "location": None, "calls": [],
                "layer": None, "message": "SavedModel input: rules need Keras layers"}]}
        converter = tf.lite.TFLiteConverter.from_saved_model(task["spec"]["path"])
        ctx = contextlib.nullcontext([])
        paths: set[str] = set()
    else:
        rw = _rewrites(task)
        ctx = rw.applied(model, plan) if (plan and rw) else contextlib.nullcontext([])
        paths = set(rw.layer_index(model)) if rw else set()
    try:
        with ctx as record:
            if model is not None:
                stage(f"converting with plan {sorted(plan)}" if plan else "converting")
                converter = converter_for(model, task["signature"])
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
            data = converter.convert()
    except Exception as exc:  # noqa: BLE001 - every converter failure becomes structured data
        return {"status": "error", "seconds": round(time.time() - t, 2),
                "errors": errors.parse_errors(exc, paths), "record": _jsonable(record),
                "peak_rss_mb": round(peak_rss_mb())}
    stage("writing .tflite")
    atomic.write_bytes(task["out"], data)
    return {"status": "ok", "seconds": round(time.time() - t, 2), "size": len(data), "errors": [],
            "record": _jsonable(record), "peak_rss_mb": round(peak_rss_mb())}


def _keras_outputs(model, inputs: list[np.ndarray], names: list[str]) -> dict[str, np.ndarray]:
    out = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    if isinstance(out, dict):
        return {k: np.asarray(v) for k, v in out.items()}
    if not isinstance(out, (list, tuple)):
        out = [out]
    return {n: np.asarray(v) for n, v in zip(names, out)}


def do_parity(task: dict[str, Any]) -> dict[str, Any]:
    from ai_edge_litert.interpreter import Interpreter

    from opaudit.fix import parity

    model, extra = _load(task)
    z = np.load(Path(task["workdir"]) / "samples.npz")
    n = 1 + max(int(k.split("_")[0][1:]) for k in z.files)
    data = [[z[f"s{i}_{j}"] for j in range(len([k for k in z.files if k.startswith(f's{i}_')]))] for i in range(n)]
    stage("running TFLite")
    interp = Interpreter(model_path=task["tflite"])
    key, entry = next(iter(interp.get_signature_list().items()))  # the one exported signature
    runner = interp.get_signature_runner(key)
    sig_in = entry["inputs"]
    names = [s["name"] for s in task["signature"]]
    per_sample, note = [], "outputs matched by SignatureDef output name"
    for i, inputs in enumerate(data):
        stage(f"parity sample {i + 1}/{n}")
        tfl = runner(**{k: inputs[names.index(k)] for k in sig_in})
        if model is None:
            fn = extra["saved_model"].signatures["serving_default"]
            ref = {k: np.asarray(v) for k, v in fn(**dict(zip(names, inputs))).items()}
        else:
            ref = _keras_outputs(model, inputs, task.get("outputs") or [])
            renamed = _match_names(ref, tfl)
            if renamed is not tfl:
                tfl = renamed
                note = "list outputs: SignatureDef output_i is Keras output i (shapes checked)"
        per_sample.append(parity.compare_outputs(ref, {k: np.asarray(v) for k, v in tfl.items()}))
    outputs = parity.merge_samples(per_sample)
    return {"status": "ok", "passed": all(o["passed"] for o in outputs), "samples": n,
            "bar": parity.BAR, "matching": note, "outputs": outputs}


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


def main(argv: list[str]) -> int:
    global _STAGE
    task = json.loads(Path(argv[0]).read_text())
    _STAGE = Path(task["stage_file"])
    try:
        result = {"prepare": do_prepare, "convert": do_convert, "parity": do_parity}[task["task"]](task)
    except Exception as exc:  # noqa: BLE001 - reported to the parent as data
        result = {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc()[-4000:]}
    result.setdefault("peak_rss_mb", round(peak_rss_mb()))
    Path(task["result"]).write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
