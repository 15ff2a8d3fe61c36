"""`fix --quantize fp16` on a detector: the detection metrics in `fix.json`, recomputed here.

The tiny two-stage detector (`tests/detector_zoo/tiny_detector.py`: NMS proposals, ROI crops,
per-class NMS) is fixed and quantized; this test runs Keras in this process and the delivered
`.tflite` files with the interpreter, and pairs detections with its own matcher (same class, box
IoU >= 0.8, one to one, best IoU first) to recompute agreement and counts for the float and the
fp16 model.
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
DET = ROOT / "tests/detector_zoo/tiny_detector.py"


def _iou(a, b):
    h = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    w = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = h * w
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _agreement(keras_dets, tfl_dets):
    kept = total = nk = nt = 0
    for kd, td in zip(keras_dets, tfl_dets):
        k = [r for r in np.asarray(kd, float).reshape(-1, 6) if np.any(r)]
        t = [r for r in np.asarray(td, float).reshape(-1, 6) if np.any(r)]
        cand = sorted(((_iou(a[:4], b[:4]), i, j) for i, a in enumerate(k) for j, b in enumerate(t)
                       if round(a[4]) == round(b[4])), reverse=True)
        used_k, used_t = set(), set()
        for iou, i, j in cand:
            if iou >= 0.8 and i not in used_k and j not in used_t:
                used_k.add(i)
                used_t.add(j)
        kept, total, nk, nt = kept + len(used_k), total + max(len(k), len(t)), nk + len(k), nt + len(t)
    return 100.0 * kept / total, kept, nk, nt


@pytest.mark.slow
def test_detector_fp16_metrics_recomputed(tmp_path):
    r = subprocess.run([sys.executable, "-m", "opaudit", "fix", "--model", f"{DET}:build", "--samples",
                        f"{DET}:samples", "--quantize", "fp16", "--out", str(tmp_path), "--no-cache"],
                       capture_output=True, text=True, check=False, timeout=900)
    fix = json.loads((tmp_path / "fix.json").read_text())
    assert fix["status"] == "fixed", r.stdout[-3000:]
    q = fix["quantization"]
    v = q["variants"][0]
    assert v["audit"]["builtin_only"] and v["audit"]["invokes"] and v["tool"] == "ai-edge-quantizer"
    assert "float16" in v["audit"]["weight_dtypes"]
    assert r.returncode == (0 if v["status"] == "ok" else 1)

    spec = importlib.util.spec_from_file_location("tiny_detector_check", DET)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model, xs = mod.build(), mod.samples()
    keras_dets = [np.asarray(model(x[0], training=False)["detections"]) for x in xs]
    assert sum(np.any(np.asarray(d).reshape(-1, 6), axis=1).sum() for d in keras_dets) > 0, "no detections"
    from ai_edge_litert.interpreter import Interpreter

    for path, metrics in (("model.tflite", q["float_metrics"]), (v["path"], v["metrics"])):
        runner = Interpreter(model_path=str(tmp_path / path)).get_signature_runner()
        tfl_dets = [runner(image=x[0])["detections"] for x in xs]
        agreement, kept, nk, nt = _agreement(keras_dets, tfl_dets)
        det = metrics["detections"]
        assert (det["matched"], det["keras"], det["tflite"]) == (kept, nk, nt), path
        assert det["agreement"] == pytest.approx(agreement, abs=1e-9), path
