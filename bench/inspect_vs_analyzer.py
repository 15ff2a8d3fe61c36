"""Whole-process `opaudit inspect` against TensorFlow's Analyzer, measured in one run.

    .venv/bin/python bench/inspect_vs_analyzer.py [MODEL.tflite]

Without a model it builds `keras.applications.ResNet50(weights=None)` (~102 MB float32) once into
bench/.models/. Each command runs in a fresh wrapper process that reports wall time and the peak
RSS of its largest descendant (RUSAGE_CHILDREN), `--repeat` times; medians are printed, then the
ratios. The floor is what any tool must pay: starting Python, loading the interpreter and
invoking once (`floor_runtime`) plus one pass over the tables (`floor_parse`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable

WRAP = r"""
import json, resource, subprocess, sys, time
t = time.perf_counter()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wall = time.perf_counter() - t
print(json.dumps({"wall": wall, "rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, "rc": r.returncode}))
"""


def measure(cmd: list[str], repeat: int) -> dict:
    runs = [json.loads(subprocess.run([PY, "-c", WRAP, *cmd], capture_output=True, text=True, check=True).stdout)
            for _ in range(repeat)]
    return {"wall": statistics.median(r["wall"] for r in runs), "rss_mb": max(r["rss_mb"] for r in runs),
            "rc": runs[-1]["rc"]}


def build_model() -> Path:
    out = HERE / ".models" / "resnet50.tflite"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        code = ("import keras, tensorflow as tf; m = keras.applications.ResNet50(weights=None); "
                "c = tf.lite.TFLiteConverter.from_keras_model(m); "
                f"open({str(out)!r}, 'wb').write(c.convert())")
        subprocess.run([PY, "-c", code], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    model = a.model or build_model()
    size_mb = model.stat().st_size / 1e6
    cmds = {
        "opaudit": [PY, "-m", "opaudit", "inspect", str(model)],
        "opaudit_json": [PY, "-m", "opaudit", "inspect", "--json", str(model)],
        "analyzer": [PY, "-c", f"import tensorflow as tf; tf.lite.experimental.Analyzer.analyze(model_path={str(model)!r})"],
        "floor_runtime": [PY, "-c", "from ai_edge_litert.interpreter import Interpreter as I; "
                          f"i = I(model_path={str(model)!r}); i.allocate_tensors(); i.invoke()"],
        "floor_parse": [PY, "-c", f"from opaudit.flatbuf.model import load; load({str(model)!r})"],
    }
    res = {k: measure(v, a.repeat) for k, v in cmds.items()}
    broken = {k: r["rc"] for k, r in res.items() if r["rc"] not in (0, 1)}
    if broken:
        sys.exit(f"bench: commands failed (exit codes {broken}); numbers would be meaningless")
    print(f"model: {model} ({size_mb:.1f} MB), median of {a.repeat} runs, 2-core machine")
    for k, r in res.items():
        print(f"  {k:14s} wall {r['wall']:6.2f} s   peak RSS {r['rss_mb']:7.0f} MiB   exit {r['rc']}")
    an, op = res["analyzer"], res["opaudit"]
    print(f"ratio opaudit/analyzer wall: {op['wall'] / an['wall']:.3f}  (bar <= 0.2, goal <= 0.1)")
    print(f"ratio opaudit/analyzer peak RSS: {op['rss_mb'] / an['rss_mb']:.3f}")
    floor = res["floor_runtime"]["wall"] + res["floor_parse"]["wall"]
    print(f"ratio opaudit/floor (runtime start+invoke + table pass = {floor:.2f} s): {op['wall'] / floor:.2f}")


if __name__ == "__main__":
    main()
