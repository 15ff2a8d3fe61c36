"""Keras inference benchmark of the clean-room Mask R-CNN (small and COCO configs).

Usage: python bench/mrcnn_keras.py [--runs 3] [--configs small coco]

Each config runs in its own subprocess so peak RSS (``ru_maxrss``) is per config. Reported per
config: build time (TF import + graph + seeded weights); eager ``keras_model(x)``: first call and
median of ``--runs`` calls after it; ``keras_model.predict_on_batch``: first call (includes the
tf.function trace), median and min of ``--runs`` calls after it; median ``detect()`` time (molding +
eager call + unmolding); peak RSS in MiB. Input: one synthetic 480x640
RGB image; DETECTION_MIN_CONFIDENCE=0 so the detection/mask path is fully exercised.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(fn) -> float:
    """Wall-clock seconds of one ``fn()`` call."""
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def run_one(name: str, runs: int) -> dict:
    sys.path.insert(0, ROOT)
    import numpy as np

    t0 = time.perf_counter()
    import tensorflow as tf  # noqa: F401  (import time is part of the build column)
    from mrcnn import MaskRCNN, get_config

    model = MaskRCNN(get_config(name, DETECTION_MIN_CONFIDENCE=0.0), seed=0)
    build_s = time.perf_counter() - t0
    image = np.random.default_rng(0).integers(0, 256, (480, 640, 3)).astype(np.uint8)
    inputs = model.mold_inputs([image])
    eager = lambda: model.keras_model(inputs, training=False)  # noqa: E731
    predict = lambda: model.keras_model.predict_on_batch(inputs)  # noqa: E731
    eager_first_s = timed(eager)
    eager_times = [timed(eager) for _ in range(runs)]
    first_s = timed(predict)
    times = [timed(predict) for _ in range(runs)]
    detect_times = []
    for _ in range(max(1, runs // 2)):
        t = time.perf_counter()
        result = model.detect([image])[0]
        detect_times.append(time.perf_counter() - t)
    return {
        "config": name, "params": int(model.keras_model.count_params()),
        "build_s": round(build_s, 1),
        "eager_first_s": round(eager_first_s, 1),
        "eager_median_s": round(statistics.median(eager_times), 2),
        "predict_first_s": round(first_s, 1),
        "predict_median_s": round(statistics.median(times), 2),
        "predict_min_s": round(min(times), 2),
        "detect_median_s": round(statistics.median(detect_times), 2),
        "detections": int(len(result["class_ids"])),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--configs", nargs="+", default=["small", "coco"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(run_one(args.child, args.runs)), flush=True)
        return
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    rows = []
    for name in args.configs:
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", name,
                               "--runs", str(args.runs)], capture_output=True, text=True, env=env)
        lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
        if proc.returncode or not lines:
            print(f"{name}: failed (exit {proc.returncode})\n{proc.stderr[-2000:]}")
            continue
        rows.append(json.loads(lines[-1][len("RESULT "):]))
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"cpu cores: {os.cpu_count()}, runs per config: {args.runs}, load average now: {load}")
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
