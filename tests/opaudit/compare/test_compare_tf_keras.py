"""compare walks tf_keras (Keras 2) functional models too (subprocess with TF_USE_LEGACY_KERAS=1)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_tf_keras_model_equal_then_divergent(tmp_path):
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "tests.opaudit.compare.tf_keras_case", str(tmp_path)],
                       capture_output=True, text=True, timeout=600, env=env, cwd=ROOT, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(next(line for line in r.stdout.splitlines() if line.startswith("RESULT "))[7:])
    clean, bad = res["clean"], res["perturbed"]
    assert clean["verdict"] == "equal", clean["summary"]
    by = {c["layer"]: c for c in clean["layers"]}
    assert by["dense"]["status"] == "equal" and by["dense"]["tflite_nodes"]
    assert bad["verdict"] == "divergent" and bad["first_divergent"]["layer"] == "dense", bad["summary"]
