"""Real models from public packages (tests/opaudit/fixtures/third_party): the verdicts agree
with the runtime, and each class of false verdict the issue lists stays fixed."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from rich.console import Console

from opaudit.inspect import inspect_model
from opaudit.render import terminal
from opaudit.render.html import render_inspect_html

HERE = Path(__file__).parent / "fixtures" / "third_party"
SELFIE = HERE / "mediapipe" / "selfie_segmentation.tflite"
FACE = HERE / "mediapipe" / "face_detection_short_range.tflite"
PITCH = HERE / "basic_pitch" / "nmp.tflite"
ALL = [SELFIE, FACE, PITCH]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "opaudit", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def runtime_runs(path: Path, stock: bool) -> bool:
    """Does the runtime load, allocate and invoke the model (stock kernels or default)?"""
    kw = {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES} if stock else {}
    try:
        it = Interpreter(model_path=str(path), **kw)
        for d in it.get_input_details():
            if any(x < 0 for x in d["shape_signature"]):
                it.resize_tensor_input(d["index"], [max(x, 1) for x in d["shape_signature"]])
        it.allocate_tensors()
        for d in it.get_input_details():
            it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
        it.invoke()
        return True
    except RuntimeError:
        return False


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_exit_codes_are_what_the_runtime_does(path):
    for target, stock in (("cpu", True), ("xnnpack", False)):
        want = 0 if runtime_runs(path, stock) else 1
        r = cli("inspect", "--target", target, path)
        assert r.returncode == want, (target, r.stdout[-2000:], r.stderr)


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_node_for_node_and_cards_count_nodes(path):
    r = inspect_model(str(path), target="gpu")
    ops = Interpreter(model_path=str(path))._get_ops_details()
    ours = [(o.index, o.op) for o in r.operators if o.subgraph == 0]
    assert ours == [(x["index"], x["op_name"]) for x in ops][: len(ours)]
    counts = r.to_dict()["counts"]
    for t in ("cpu", "xnnpack", "gpu"):
        assert counts[t]["blocked_nodes"] == len(r.blocked_nodes(t))
    html = render_inspect_html(r, rule_lookup=lambda op: None)
    gpu_card = re.search(r"GPU delegate</div><div class=\"vtext\">([^<]*)<", html).group(1)
    if counts["gpu"]["blocked_nodes"]:
        assert f"{counts['gpu']['blocked_nodes']} node(s) blocked" in gpu_card
    out = io.StringIO()
    terminal.render(r, Console(file=out, width=200, highlight=False))
    n = counts["gpu"]["blocked_nodes"]
    assert (f"gpu: blocked ({n} node" in out.getvalue()) == bool(n)
    if n:
        assert f"cannot run on gpu ({n} node" in out.getvalue()
    d = r.delegation["gpu"]
    assert counts["gpu"]["delegated_nodes"] + counts["gpu"]["blocked_nodes"] == len(r.operators)
    assert d.delegated_count == counts["gpu"]["delegated_nodes"]


def test_mediapipe_custom_op_taken_by_xnnpack():
    r = inspect_model(str(SELFIE), target="xnnpack")
    assert r.blocking() == []
    assert r.runtime_probes["cpu"].status == "prepare_failed"  # stock kernels: unresolved custom op
    assert r.runtime_probes["xnnpack"].status == "ok"
    f = next(f for f in r.findings if f.code == "UNRESOLVED_CUSTOM_OP")
    assert f.targets == ("cpu",) and f.op == "Convolution2DTransposeBias"
    assert "Encountered unresolved custom op" in f.error
    x = r.delegation["xnnpack"]
    assert (x.source, x.verdict, len(x.partitions), x.delegated_count) == ("measured", "yes", 1, 246)
    assert all(n.source == "measured" for n in x.nodes)
    assert not [f for f in r.findings if f.code == "XNNPACK_UNSUPPORTED"]
    assert [f.code for f in inspect_model(str(SELFIE), target="cpu").blocking()] == ["UNRESOLVED_CUSTOM_OP"]


@pytest.mark.parametrize("path", [SELFIE, FACE], ids=lambda p: p.stem)
def test_fp16_dequantize_is_folded(path):
    r = inspect_model(str(path), target="gpu", probe=False)
    messages = " ".join(f.message for f in r.findings)
    assert "only with 8-bit" not in messages and "must be constant" not in messages
    assert not [f for f in r.findings if f.code in ("GPU_UNSUPPORTED", "XNNPACK_UNSUPPORTED")]
    assert r.support["DEQUANTIZE"]["gpu"].status == "yes" and "FP16GraphPartitionHelper" in r.support["DEQUANTIZE"]["gpu"].reason
    assert r.delegation["gpu"].verdict == "yes" and r.delegation["xnnpack"].source == "predicted"


def test_input_shape_clears_batch_only_dynamic_gpu_block():
    dyn = re.compile("dynamic shape")
    before = inspect_model(str(PITCH), target="gpu", probe=False)
    assert any(dyn.search(f.message) for f in before.blocking())
    after = inspect_model(str(PITCH), target="gpu", probe=False, input_shapes={"input_2": [1, 43844, 1]})
    assert not any(dyn.search(f.message) for f in after.blocking())
    assert not [f for f in after.findings if f.code == "DYNAMIC_SHAPE"]
    assert len(after.blocked_nodes("gpu")) < len(before.blocked_nodes("gpu"))
    w = before.delegation["gpu"].if_static  # the "what if" line says the same
    assert w["delegated_nodes"] == after.delegation["gpu"].delegated_count


def test_per_octave_conv_loop_is_not_called_time_distributed():
    r = inspect_model(str(PITCH), probe=False)
    boom = [f for f in r.findings if f.code == "OP_EXPLOSION"]
    assert [(f.detail["pattern"], f.severity) for f in boom] == [("loop", "info")]
    assert "TimeDistributed" not in boom[0].message and "loop" in boom[0].message


def test_xnnpack_partitions_measured_on_basic_pitch():
    r = inspect_model(str(PITCH))
    x = r.delegation["xnnpack"]
    it = Interpreter(model_path=str(PITCH))
    it.resize_tensor_input(0, [1, 43844, 1])
    it.allocate_tensors()
    runtime = sum(d["op_name"] == "DELEGATE" for d in it._get_ops_details())
    assert x.source == "measured" and len(x.partitions) == runtime > 1 and x.verdict == "no" and x.splitters
    assert {n.op for n in x.nodes if not n.delegated} >= {"EXPAND_DIMS", "SHAPE"}
    assert x.flop_share == 1.0  # every convolution runs inside XNNPACK
    doc = json.loads(json.dumps(r.to_dict()))
    assert doc["delegation"]["xnnpack"]["partitions"][0]["source"] == "measured"


def test_every_verdict_says_measured_or_predicted():
    r = inspect_model(str(SELFIE))
    assert r.to_dict()["verdict_sources"] == {"cpu": "measured", "xnnpack": "measured", "gpu": "predicted"}
    assert set(inspect_model(str(SELFIE), probe=False).verdict_sources().values()) == {"predicted"}
    html = render_inspect_html(r, rule_lookup=lambda op: None)
    assert "Cannot run [measured]" in html and "[predicted]" in html
