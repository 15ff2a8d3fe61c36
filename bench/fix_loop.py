"""Benchmark of `opaudit fix`: one fresh fix run, one cached rerun, then Keras vs TFLite latency.

Usage: python bench/fix_loop.py [--model mrcnn] [--config small|coco] [--runs 5] [--json out.json]

Everything is measured in this one run on this machine and printed as numbers plus ratios:
fix-loop wall time (fresh, with an empty cache), cached rerun time, peak RSS of the conversion
child, .tflite size, and median inference latency of Keras (eager ``model(x, training=False)``)
and of the .tflite (``ai_edge_litert`` Interpreter, default CPU delegate) on the same inputs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _median_seconds(fn, runs: int) -> float:
    fn()  # warm-up (tracing, allocation)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def latency(model: str, config: str, tflite: Path, runs: int) -> dict:
    """Median seconds per inference, Keras vs TFLite, on the fix run's first parity sample."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from ai_edge_litert.interpreter import Interpreter

    from opaudit import model_kinds, modelspec, samples

    spec = modelspec.describe(model, config if model == "mrcnn" else None)
    loaded = model_kinds.load(spec)
    keras_model = loaded.keras
    made = model_kinds.get_kind(spec.kind).samples(loaded, 1)
    data = made[0] if made else samples.random_samples(modelspec.signature(keras_model, None, None), n=1)
    inputs = data[0]
    interp = Interpreter(model_path=str(tflite))
    key, entry = next(iter(interp.get_signature_list().items()))
    runner = interp.get_signature_runner(key)
    names = [t.name.split(":")[0] for t in keras_model.inputs]
    feed = {k: inputs[names.index(k)] for k in entry["inputs"]}
    arg = inputs if len(inputs) > 1 else inputs[0]
    keras_s = _median_seconds(lambda: keras_model(arg, training=False), runs)
    tflite_s = _median_seconds(lambda: runner(**feed), runs)
    return {"keras_s": keras_s, "tflite_s": tflite_s, "runs": runs}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="mrcnn")
    ap.add_argument("--config", default="small")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args()
    from opaudit.fix import run_fix

    tmp = Path(tempfile.mkdtemp(prefix="opaudit-bench-"))
    os.environ["OPAUDIT_CACHE"] = str(tmp / "cache")
    t = time.monotonic()
    fix = run_fix(args.model, out=tmp / "out", config=args.config, progress=lambda s: print("  ..", s))
    fresh = time.monotonic() - t
    t = time.monotonic()
    again = run_fix(args.model, out=tmp / "out2", config=args.config)
    cached = time.monotonic() - t
    convs = [it.conversion for it in fix.iterations if it.conversion]
    row = {"model": args.model, "config": args.config, "status": fix.status, "reason": fix.reason,
           "iterations": len(fix.iterations), "fix_wall_s": round(fresh, 1),
           "conversion_s": [c.seconds for c in convs],
           "peak_rss_mb": max((c.peak_rss_mb or 0) for c in convs) if convs else None,
           "cached_rerun_s": round(cached, 3), "cache_hit": again.cache["hit"],
           "size_bytes": fix.iterations[-1].size if fix.iterations else None}
    if fix.fixed:
        from opaudit.flatbuf.model import load
        from opaudit.flops import count_flops
        from opaudit.profile.peak import peak_gflops

        row.update(latency(args.model, args.config, tmp / "out" / "model.tflite", args.runs))
        row["tflite_over_keras"] = round(row["tflite_s"] / row["keras_s"], 3)
        flops, _ = count_flops(load(str(tmp / "out" / "model.tflite")))
        peak, how = peak_gflops()
        row["model_gflop"] = round(flops / 1e9, 1)
        row["tflite_gflops_achieved"] = round(flops / 1e9 / row["tflite_s"], 1)
        row["machine_peak_gflops"] = f"{peak:.0f} ({how})"
        row["achieved_over_peak"] = round(flops / 1e9 / row["tflite_s"] / peak, 3) if peak else None
    row["cached_over_fresh"] = round(cached / fresh, 5)
    for k, v in row.items():
        print(f"{k:>20}: {v}")
    if args.json:
        Path(args.json).write_text(json.dumps(row, indent=2))
    return 0 if fix.fixed else 1


if __name__ == "__main__":
    sys.exit(main())
