"""Inference speed in one run: LiteRT vs Keras graph mode vs Keras eager, 1 and N threads, GFLOP/s.

Usage: python bench/speed.py [--configs small [coco]] [--threads 1 2] [--runs 5]
                             [--tflite small=out/mrcnn-small/model.tflite ...] [--json out.json]

For each Mask R-CNN config and each thread count, a fresh child process (TensorFlow's thread
pools are fixed at start) builds the seeded Keras model that `opaudit fix` converts, makes one
sample as the fix's parity does, and times the median of ``--runs`` calls after a warm-up of:
Keras eager ``model(x, training=False)``; Keras graph mode ``predict_on_batch`` and a
``tf.function`` of the call; the fixed .tflite in ai_edge_litert with XNNPACK (default
resolver) and with the builtin kernels only, ``num_threads`` = the thread count. TensorFlow
gets the same count for its intra-op pool (inter-op 1). Without ``--tflite`` the fixed model
comes from ``run_fix`` (cached after the first run; a fresh COCO fix costs about 5 minutes and
3 GB, its Keras child about 8 GB: run it alone, under the heavy lock).

Printed: every median, LiteRT/Keras ratios, N-thread over 1-thread speed-ups, and GFLOP/s
(FLOPs counted with the run-time shapes of this sample) against the machine's nominal peak and
the measured ceiling (`opaudit.profile`). Numbers from a shared machine move with its load:
the load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fix_loop import _median_seconds as _median  # noqa: E402  (one warm-up, then the median)


def _keras(config: str, threads: int):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from opaudit import model_kinds, modelspec

    spec = modelspec.describe("mrcnn", config)
    loaded = model_kinds.load(spec)
    inputs = model_kinds.get_kind(spec.kind).samples(loaded, 1)[0][0]
    return tf, loaded.keras, inputs


def child(config: str, threads: int, tflite: str, runs: int, modes: list[str]) -> dict:
    """All timings of one (config, threads) in this process."""
    import numpy as np

    from opaudit.profile import timing

    tf, model, inputs = _keras(config, threads)
    arg = inputs if len(inputs) > 1 else inputs[0]
    graph_fn = tf.function(lambda *x: model(list(x) if len(x) > 1 else x[0], training=False))
    row = {"config": config, "threads": threads,
           "keras_eager_s": _median(lambda: model(arg, training=False), runs),
           "keras_predict_on_batch_s": _median(lambda: model.predict_on_batch(arg), runs),
           "keras_tf_function_s": _median(lambda: graph_fn(*inputs), runs)}
    names = [t.name.split(":")[0] for t in model.inputs]
    for mode in modes:
        interp = timing.interpreter(mode, threads, path=tflite)
        order = [d["name"] for d in interp.get_input_details()]
        values = [np.asarray(inputs[_input_position(n, names)], np.float32) for n in order]
        timing.feed(interp, values)
        row[f"litert_{mode}_s"] = _median(interp.invoke, runs)
        del interp
    interp = timing.interpreter("builtin", threads, path=tflite)  # builtin kernels resize every tensor
    timing.feed(interp, values)
    interp.invoke()
    row["flops"], row["static_flops"] = runtime_flops(interp, tflite)
    return row


def _input_position(tensor_name: str, keras_names: list[str]) -> int:
    """Keras input index of a TFLite input tensor (`serving_default_input_image:0`,
    `serve_input_image`): the longest Keras input name the tensor name ends with."""
    bare = tensor_name.split(":")[0]
    hits = [k for k in keras_names if bare == k or bare.endswith("_" + k)]
    if not hits:
        raise SystemExit(f"TFLite input {tensor_name!r} matches no Keras input ({', '.join(keras_names)})")
    return keras_names.index(max(hits, key=len))


def runtime_flops(interp, tflite: str) -> tuple[int, int]:
    """(FLOPs with the run-time shapes `interp` holds after an invoke, FLOPs from the file's static shapes)."""
    from opaudit.flatbuf.model import load
    from opaudit.flops import node_flops
    from opaudit.profile import timing
    from opaudit.profile.run import RuntimeShapes

    parsed = load(tflite)
    count = max(t.index for t in parsed.tensors if t.subgraph == 0) + 1
    actual = RuntimeShapes(parsed, timing.shapes(interp, count))
    return sum(node_flops(actual, o) for o in parsed.operators), sum(node_flops(parsed, o) for o in parsed.operators)


def fixed_model(config: str) -> str:
    from opaudit.fix import run_fix

    out = ROOT / "out" / f"bench-speed-{config}"
    fix = run_fix("mrcnn", out=out, config=config, progress=lambda s: print("  ..", s, flush=True))
    if not fix.fixed:
        raise SystemExit(f"{config}: fix failed: {fix.reason}")
    return str(out / "model.tflite")


def _spawn(config: str, threads: int, tflite: str, runs: int, modes: list[str]) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, __file__, "--child", config, "--threads", str(threads), "--runs", str(runs),
                           "--tflite", f"{config}={tflite}", "--modes", *modes], capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise SystemExit(f"{config} x{threads}: child failed ({proc.returncode})\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def report(rows: list[dict], peak: tuple[float, str], ceilings: dict) -> None:
    """Print medians, ratios and GFLOP/s."""
    for r in rows:
        c, n = r["config"], r["threads"]
        best = min(v for k, v in r.items() if k.startswith("litert_"))
        print(f"{c} x{n}: " + ", ".join(f"{k[:-2]} {v:.3f} s" for k, v in r.items() if k.endswith("_s")))
        print(f"  LiteRT(XNNPACK)/Keras: graph {r['litert_xnnpack_s'] / r['keras_predict_on_batch_s']:.2f}x "
              f"(tf.function {r['litert_xnnpack_s'] / r['keras_tf_function_s']:.2f}x), "
              f"eager {r['litert_xnnpack_s'] / r['keras_eager_s']:.2f}x")
        run_f, static_f = r["flops"], r["static_flops"]
        rate = run_f / best / 1e9
        ceil = ceilings.get(n)
        print(f"  {run_f / 1e9:.1f} GFLOP (run-time shapes; {static_f / 1e9:.1f} static): {rate:.1f} GFLOP/s = "
              f"{rate / peak[0]:.2f} of nominal peak {peak[0]:.0f}" + (f", {rate / ceil:.2f} of measured ceiling {ceil:.0f}" if ceil else ""))
    by = {(r["config"], r["threads"]): r for r in rows}
    for (c, n), r in sorted(by.items()):
        one = by.get((c, 1))
        if n != 1 and one:
            print(f"{c}: {n} threads over 1: " + ", ".join(
                f"{k[:-2]} {one[k] / r[k]:.2f}x" for k in r if k.endswith("_s")))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=["small"])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, os.cpu_count() or 1])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tflite", nargs="*", default=[], help="CONFIG=PATH of an already fixed model")
    ap.add_argument("--modes", nargs="+", default=["xnnpack", "builtin"], choices=["xnnpack", "builtin"],
                    help="LiteRT modes (builtin-only costs ~4x XNNPACK's time on Mask R-CNN)")
    ap.add_argument("--json")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    given = dict(t.split("=", 1) for t in args.tflite)
    if args.child:
        print("RESULT " + json.dumps(child(args.child, args.threads[0], given[args.child], args.runs, args.modes)), flush=True)
        return 0
    import numpy as np

    from opaudit.profile import timing
    from opaudit.profile.peak import peak_gflops
    from opaudit.profile.tiny import dense

    models = {c: given.get(c) or fixed_model(c) for c in args.configs}
    rows = [_spawn(c, n, models[c], args.runs, args.modes) for c in args.configs for n in args.threads]
    content, f = dense()
    ceilings = {}
    for n in args.threads:
        it = timing.interpreter("xnnpack", n, content=content)
        timing.feed(it, [np.random.default_rng(0).standard_normal((256, 2048)).astype(np.float32)])
        ceilings[n] = f / _median(it.invoke, max(args.runs, 5)) / 1e9
    print(f"cores {os.cpu_count()}, runs {args.runs}, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    report(rows, peak_gflops(), ceilings)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "ceilings": ceilings}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
