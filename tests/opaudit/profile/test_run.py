"""`opaudit profile` end to end on models built without TensorFlow: exit codes, JSON, HTML,
and the child isolation (a crash or a hang is a ProfileRunError, never a dead tool)."""

import json
import subprocess
import sys

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from opaudit.errors import ModelFormatError, UsageError
from opaudit.profile import ProfileRunError, profile_model
from opaudit.profile.tiny import dense, one_element_add, one_op_model, tensor


def run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "opaudit", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def unresolved_custom_op() -> bytes:
    """x float32[2] -> custom op `NoSuchOp` -> y: loads, fails to prepare."""
    return one_op_model(schema.BuiltinOperator.CUSTOM, 0, None, [tensor("x", [2]), tensor("y", [2])], [0], [1],
                        [schema.BufferT()], custom="NoSuchOp")


@pytest.fixture
def files(tmp_path):
    paths = {"add": tmp_path / "add.tflite", "dense": tmp_path / "dense.tflite", "custom": tmp_path / "custom.tflite",
             "junk": tmp_path / "junk.tflite"}
    paths["add"].write_bytes(one_element_add())
    paths["dense"].write_bytes(dense(64, 256, 128)[0])
    paths["custom"].write_bytes(unresolved_custom_op())
    paths["junk"].write_bytes(b"<html>not a model</html>")
    return paths


def test_cli_exit_codes_and_outputs(files, tmp_path):
    html = tmp_path / "p.html"
    r = run("profile", files["dense"], "--runs", "2", "--json", "--html", html)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert [g["name"] for g in d["op_types"]] == ["FULLY_CONNECTED"]
    assert d["op_types"][0]["flops"] == 2 * 64 * 256 * 128 and d["op_types"][0]["gflops_per_s"] > 0
    assert d["nodes"][0]["exact"] is True and {t["mode"] for t in d["trust"]} == {"xnnpack", "builtin"}
    assert "Content-Security-Policy" in html.read_text() and 'id="latency"' in html.read_text()
    r = run("profile", files["custom"])
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "NoSuchOp" in r.stderr and "Traceback" not in r.stderr
    for bad in (files["junk"], tmp_path / "missing.tflite"):
        r = run("profile", bad)
        assert r.returncode == 2 and r.stderr.startswith("opaudit: error:") and r.stderr.count("\n") == 1
    assert run("profile", files["add"], "--runs", "0").returncode == 2
    r = run("profile", files["add"], "--runs", "2")
    assert r.returncode == 0 and "trust (xnnpack)" in r.stdout and "ADD" in r.stdout


def test_bad_input_raises_before_any_child(files, tmp_path):
    with pytest.raises(ModelFormatError):
        profile_model(str(files["junk"]))
    with pytest.raises(UsageError):
        profile_model(str(files["add"]), modes=("gpu",))
    with pytest.raises(UsageError):
        profile_model(str(files["add"]), inputs_npz=str(tmp_path / "none.npz"))


def test_crash_and_hang_in_the_child_become_errors(files):
    crash = (sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    with pytest.raises(ProfileRunError, match="crashed.*SIGSEGV"):
        profile_model(str(files["add"]), worker=crash)
    hang = (sys.executable, "-c", "import time; time.sleep(60)")
    with pytest.raises(ProfileRunError, match="timeout"):
        profile_model(str(files["add"]), worker=hang, timeout=2)


def test_whole_only_and_inputs_from_npz(files, tmp_path):
    npz = tmp_path / "in.npz"
    np.savez(npz, a=np.array([2.0], np.float32), b=np.array([5.0], np.float32))
    p = profile_model(str(files["add"]), runs=2, nodes=False, modes=("xnnpack",), sweep=[1, 2])
    assert p.nodes == [] and p.trust == [] and {(w.threads, w.mode) for w in p.whole} == {(1, "xnnpack"), (2, "xnnpack")}
    assert p.recommended["num_threads"] in (1, 2)
    p = profile_model(str(files["add"]), runs=2, inputs_npz=str(npz))
    assert [i["name"] for i in p.inputs] == ["a", "b"] and p.nodes[0].exact is True
