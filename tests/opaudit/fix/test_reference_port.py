"""The write-up's own road: the matterport TF2 port (Keras 2 API, as shipped in pixellib 0.7.1,
with the write-up's two edits) under tf_keras, with non-trivial weights, through the CLI as its
user would type it. It must end fixed: builtin-only, invoking, every output matching Keras."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.mrcnn import reference

REF = str(Path(reference.__file__).resolve())


@pytest.mark.slow
def test_fix_reference_port_under_tf_keras(tmp_path):
    why = reference.unavailable()
    if why:
        pytest.fail(f"reference port unavailable: {why}")  # CI installs it (scripts/setup.sh)
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "OPAUDIT_CACHE": str(tmp_path / "cache")}
    r = subprocess.run([sys.executable, "-m", "opaudit", "fix", "--model", f"{REF}:build_small",
                        "--samples", f"{REF}:samples_small", "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=1500, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    fix = json.loads((tmp_path / "out" / "fix.json").read_text())
    assert fix["status"] == "fixed" and fix["model"]["keras"] == "2"
    assert not any(f["code"] == "OP_EXPLOSION" for f in fix["pre_audit"]["findings"])  # tf_keras folds steps
    plan = fix["iterations"][-1]["plan"]
    assert plan["roi_align_classifier"] == ["crop_and_resize"] and "map_fn" in plan["mrcnn_detection"]
    # FULL_WINDOW_CONV: tf_keras names the inner Conv2D layer (`mrcnn_class_conv1/conv2d`), planned there
    heads = sorted(k.split("/")[0] for k, v in plan.items() if "full_window_conv" in v)
    assert heads == ["mrcnn_class_conv1", "mrcnn_class_conv2"]
    det = next(o for o in fix["parity"]["outputs"] if o["kind"] == "detections")
    assert det["keras"] > 0 and det["matched"] == det["keras"] == det["tflite"]
    assert fix["iterations"][-1]["non_builtin"] == []
