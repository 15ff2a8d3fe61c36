"""`opaudit compare` on small converted models: equal, a weight perturbed inside the flatbuffer,
quantization-like noise everywhere, bad input. Conversions are in-process, once per module."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.opaudit.compare import zoo

ZOO = Path(zoo.__file__).resolve()
MODEL, SAMPLES = f"{ZOO}:build_clean", f"{ZOO}:samples_clean"
pytestmark = pytest.mark.slow


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "opaudit", "compare", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("compare") / "clean.tflite"
    zoo.convert(zoo.build_clean, path)
    return path


def _compare(tflite):
    from opaudit.compare import compare_model

    return compare_model(MODEL, tflite, samples=SAMPLES)


def test_clean_conversion_is_equal(clean, tmp_path):
    r = cli("--model", MODEL, clean, "--samples", SAMPLES, "--json", "--html", tmp_path / "c.html",
            "--model-explorer", tmp_path / "me.json")
    assert r.returncode == 0, r.stderr[-2000:]
    d = json.loads(r.stdout)
    assert d["verdict"] == "equal" and d["first_divergent"] is None and d["samples"] == 2
    by = {c["layer"]: c for c in d["layers"]}
    assert by["conv"]["status"] == by["bn"]["status"] == "no-tensor"  # fused into one CONV_2D
    assert by["conv"]["fused_into"] == by["bn"]["fused_into"] == "relu"
    assert set(by["relu"]["region"]) == {"conv", "bn"}
    for name in ("relu", "conv_b", "add", "dense", "logits", "probs"):
        assert by[name]["status"] == "equal" and by[name]["isolated"]["max_rel"] < 1e-5, name
        assert by[name]["tflite_nodes"], name
    html = (tmp_path / "c.html").read_text()
    assert "Content-Security-Policy" in html and "<svg class=\"spark\"" in html and "polyline" in html
    assert json.loads((tmp_path / "me.json").read_text())["main"]["results"]


def test_perturbed_layer_is_named_first(clean, tmp_path):
    bad = tmp_path / "dense_perturbed.tflite"
    assert zoo.perturb_weights(clean, bad, "dense", 0.05)
    r = cli("--model", MODEL, bad, "--samples", SAMPLES, "--json")
    assert r.returncode == 1, r.stderr[-2000:]
    d = json.loads(r.stdout)
    assert d["verdict"] == "divergent" and d["first_divergent"]["layer"] == "dense"
    assert any("FULLY_CONNECTED" in n for n in d["first_divergent"]["tflite_nodes"])
    order = {c["layer"]: c for c in d["layers"]}
    for c in d["layers"]:
        if c["order"] < order["dense"]["order"]:
            assert c["status"] in ("equal", "no-tensor"), c
        if c["order"] > order["dense"]["order"] and c["isolated"]:
            assert c["status"] != "divergent", c  # downstream layers are exact on identical inputs
    assert clean.read_bytes() != bad.read_bytes()


def test_perturbed_fused_layer_names_the_region(clean, tmp_path):
    bad = tmp_path / "conv_perturbed.tflite"
    zoo.perturb_weights(clean, bad, "relu", 0.05)  # the fused conv+bn+relu CONV_2D (named relu;...;conv)
    rep = _compare(bad)
    assert rep.verdict == "divergent" and rep.first_divergent["layer"] == "relu"
    assert set(rep.first_divergent["region"]) == {"conv", "bn"}


def test_small_noise_everywhere_is_not_blamed_on_a_layer(clean, tmp_path):
    noisy = tmp_path / "noisy.tflite"
    assert len(zoo.perturb_weights(clean, noisy, None, 3e-6)) >= 6
    rep, ref = _compare(noisy), _compare(clean)
    assert rep.verdict != "divergent" and rep.first_divergent is None
    compared = [c for c in rep.layers if c.isolated is not None]
    assert all(c.isolated.max_rel <= rep.bar for c in compared)
    assert max(c.isolated.max_rel for c in compared) > 3 * max(c.isolated.max_rel for c in ref.layers if c.isolated)


def test_bad_input_is_one_line_exit_2(clean, tmp_path):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"<html>not a model</html>")
    for args in (("--model", MODEL, junk), ("--model", MODEL, tmp_path / "missing.tflite"),
                 ("--model", "nope.txt", clean), ("--model", MODEL, clean, "--samples", f"{ZOO}:samples_crop")):
        r = cli(*args)
        assert r.returncode == 2, (args, r.stderr[-1500:])
        ours = [line for line in r.stderr.splitlines() if line.startswith("opaudit")]
        assert len(ours) == 1 and ours[0].startswith("opaudit: error:") and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.rstrip().endswith(ours[0])  # TensorFlow's own start-up log lines may come before
