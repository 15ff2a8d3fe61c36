"""The CLI as a user meets it: exit codes, one-line errors, JSON on stdout."""

import json
import subprocess
import sys


def run(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "opaudit", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def test_exit_codes(models, tmp_path):
    assert run("inspect", models["clean"]).returncode == 0
    r = run("inspect", models["flex"])
    assert r.returncode == 1
    assert "roi_align" in r.stdout and "FlexCropAndResize" in r.stdout
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"<html>not a model</html>")
    r = run("inspect", bad)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0
    assert r.stderr.startswith("opaudit: error:") and "not a TFLite model" in r.stderr
    assert run("inspect", tmp_path / "missing.tflite").returncode == 2
    r = run("inspect", models["clean"], "--input-shape", "oops")
    assert r.returncode == 2 and "NAME=D1,D2" in r.stderr and "Traceback" not in r.stderr
    assert run("inspect", models["clean"], "--target", "tpu").returncode == 2


def test_json_several_models(models, tmp_path):
    """Several models: JSON Lines, one document per model, in the order given."""
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\0" * 100)
    r = run("inspect", "--json", models["clean"], models["custom"], bad)
    assert r.returncode == 2
    docs = [json.loads(line) for line in r.stdout.splitlines()]
    assert sorted(m.get("path") for m in docs) == sorted([str(models["clean"]), str(models["custom"]), str(bad)])
    by = {m["path"]: m for m in docs}
    assert by[str(models["custom"])]["findings"][0]["code"] == "UNRESOLVED_CUSTOM_OP"
    assert "error" in by[str(bad)] and by[str(bad)]["exit_code"] == 2


def test_json_single_model(models):
    r = run("inspect", "--json", "--no-probe", models["clean"])
    assert r.returncode == 0
    d = json.loads(r.stdout)
    assert d["probe"] is None and [o["op"] for o in d["operators"]] == ["CONV_2D", "MEAN", "FULLY_CONNECTED"]
