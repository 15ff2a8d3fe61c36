"""End to end: `run_fix` on the tiny detector (tests/detector_zoo), a model written independently
of the rewrite rules, with the blockers Mask R-CNN has (crop_and_resize, NMS V3 whose length is
used, tf.sets.intersection, dynamic per-class map_fn, TimeDistributed heads)."""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
MODEL = str(ROOT / "tests/detector_zoo/tiny_detector.py") + ":build"
SAMPLES = str(ROOT / "tests/detector_zoo/tiny_detector.py") + ":samples"


def _check_tflite(path: Path, n_ops_min: int = 10) -> None:
    from ai_edge_litert.interpreter import Interpreter

    from opaudit.flatbuf.model import load

    ops = load(str(path)).operators
    assert len(ops) >= n_ops_min
    assert [o.op for o in ops if o.kind != "builtin"] == []  # zero custom, zero Flex
    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    detail = it.get_input_details()[0]
    it.set_tensor(detail["index"], np.random.default_rng(0).random(detail["shape"], dtype=np.float32))
    it.invoke()


# ------------------------------------------------------------------ the pure stop decision
def _it(status="ok", findings=(), non_builtin=(), probe="ok", record=()):
    from opaudit.findings import ProbeResult
    from opaudit.fix.result import Conversion, Iteration

    return Iteration(n=1, plan={}, conversion=Conversion(status, record=list(record)), findings=list(findings),
                     non_builtin=list(non_builtin), probe=ProbeResult(probe, "rt") if probe else None)


def _finding(code, layer, tf_op, severity="error"):
    from opaudit.findings import TARGETS, Finding

    return Finding(code=code, severity=severity, message=f"{tf_op} at {layer}", layer=layer, op=tf_op,
                   targets=TARGETS if severity == "error" else (), detail={"tf_op": tf_op})


def test_decide_parity_when_clean_and_nothing_optional_left():
    from opaudit.fix.loop import decide

    d = decide(_it(), {"roi": ["crop_and_resize"]}, {}, set())
    assert d.action == "parity" and d.plan == {"roi": ["crop_and_resize"]}


def test_decide_optional_rule_before_parity():
    from opaudit.fix.loop import decide

    d = decide(_it(findings=[_finding("NMS_PADDED_OUTPUT", "ROI", "NonMaxSuppressionV3", "warning")]), {}, {}, set())
    assert d.action == "reconvert" and d.plan == {"ROI": ["nms"]} and d.state == ()


def test_decide_reconvert_then_no_progress_then_declined():
    from opaudit.fix.loop import decide

    failing = _it(status="error", findings=[_finding("CONVERTER_ERROR", "roi", "CropAndResize")], probe=None)
    d = decide(failing, {}, {}, set())
    assert d.action == "reconvert" and d.plan == {"roi": ["crop_and_resize"]}
    assert [a.rule for a in d.applied] == ["crop_and_resize"]
    again = decide(failing, {}, {}, {d.state})
    assert again.action == "stop" and again.reason.startswith("no progress")
    record = [{"rule": "crop_and_resize", "layer": "roi", "declined": ["needs a static crop_size"]}]
    stuck = _it(status="error", findings=failing.findings, probe=None, record=record)
    d = decide(stuck, {"roi": ["crop_and_resize"]}, {}, set())
    assert d.action == "stop" and d.unfixed[0].why == "rule crop_and_resize declined: needs a static crop_size"
    assert "not fixable: CropAndResize at layer roi" in d.reason


def test_decide_speed_hint_reconverts_once_then_parity_even_if_the_rule_declined():
    from opaudit.fix.loop import decide

    hint = _finding("FULL_WINDOW_CONV", "mrcnn_class_conv1", "CONV_2D", "info")
    plan = {"mrcnn_class_conv1": ["time_distributed"]}
    d = decide(_it(findings=[hint]), plan, {}, set())
    assert d.action == "reconvert" and d.plan == {"mrcnn_class_conv1": ["time_distributed", "full_window_conv"]}
    assert [(a.rule, a.answers) for a in d.applied] == [("full_window_conv", ["FULL_WINDOW_CONV"])]
    declined = [{"rule": "full_window_conv", "layer": "mrcnn_class_conv1", "declined": ["full_window_conv: padding SAME"]}]
    d = decide(_it(findings=[hint], record=declined), d.plan, {}, set())
    assert d.action == "parity" and d.unfixed == [] and d.plan["mrcnn_class_conv1"][-1] == "full_window_conv"
    # beside a blocker that has no rule, the hint does not hide why the run stops
    stuck = decide(_it(status="error", findings=[hint, _finding("CONVERTER_ERROR", "head", "EagerPyFunc")], probe=None),
                   {}, {}, set())
    assert stuck.action == "stop" and [u.code for u in stuck.unfixed] == ["CONVERTER_ERROR"]


def test_decide_stops_on_timeout_and_on_a_blocker_without_rule():
    from opaudit.findings import Finding
    from opaudit.fix.loop import decide

    timeout = _it(status="timeout", findings=[Finding("CONVERTER_TIMEOUT", "error", "did not finish in 3 s")])
    d = decide(timeout, {}, {}, set())
    assert d.action == "stop" and d.reason == "did not finish in 3 s"
    assert d.unfixed[0].why == "conversion did not complete"
    probe_failed = _it(findings=[_finding("FLEX_OP", "head", "EagerPyFunc")], probe="invoke_failed")
    d = decide(probe_failed, {}, {}, set())
    assert d.action == "stop" and d.unfixed[0].why == "no rule for this op/layer"


@pytest.mark.slow
def test_fix_tiny_detector_end_to_end_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("OPAUDIT_CACHE", str(tmp_path / "cache"))
    from opaudit.fix import run_fix

    out = tmp_path / "out"
    fix = run_fix(MODEL, out=out, samples=SAMPLES, progress=lambda s: None).to_dict()
    assert fix["status"] == "fixed", fix["reason"]
    assert json.loads((out / "fix.json").read_text())["status"] == "fixed"
    _check_tflite(out / "model.tflite")
    assert fix["parity"]["passed"] and fix["parity"]["samples"] == 3
    kinds = {o["name"]: o["kind"] for o in fix["parity"]["outputs"]}
    assert kinds == {"detections": "detections", "class_probs": "dense", "proposals": "rois"}
    det = next(o for o in fix["parity"]["outputs"] if o["kind"] == "detections")
    assert det["keras"] > 0 and det["matched"] == det["keras"] == det["tflite"]
    # the pre-audit found every blocker before converting, mapped to its layer
    pre = {(f["code"], f["layer"]) for f in fix["pre_audit"]["findings"] if f["severity"] != "info"}
    assert {("CONVERTER_ERROR", "roi_pool"), ("CONVERTER_ERROR", "detect"), ("TENSOR_LIST_OPS", "detect"),
            ("NMS_PADDED_OUTPUT", "proposals"), ("OP_EXPLOSION", "head_fc")} <= pre
    plan = fix["iterations"][-1]["plan"]
    assert plan["roi_pool"] == ["crop_and_resize"] and plan["proposals"] == ["nms"]
    assert set(plan["detect"]) == {"set_operation", "map_fn", "nms"}
    assert plan["head_fc"] == plan["head_class"] == ["time_distributed"]
    assert "conv1" not in plan and "rpn_cls" not in plan
    it = fix["iterations"][-1]
    assert it["conversion"]["status"] == "ok" and it["probe"]["status"] == "ok"
    assert it["size"] == (out / "model.tflite").stat().st_size
    assert fix["op_histogram_after"] and "FlexCropAndResize" not in fix["op_histogram_after"]
    assert fix["cache"]["hit"] is False
    emits = {e["rule"]: e for e in it["emits"]}
    assert set(emits) == {"crop_and_resize", "nms", "set_operation", "map_fn", "time_distributed"}
    assert all(e["fired"] and e["non_builtin"] == [] for e in emits.values()), emits
    assert fix["iterations"][0]["op_delta"] == fix["iterations"][0]["op_histogram"]  # from nothing

    # cached rerun: a hit, fast, and TensorFlow is never imported
    code = ("import json, sys, time; t = time.monotonic(); from pathlib import Path; "
            "from opaudit.fix import run_fix; "
            f"fix = run_fix({MODEL!r}, out=Path({str(tmp_path / 'out2')!r}), samples={SAMPLES!r}); "
            "print(json.dumps({'hit': fix.cache['hit'], 'status': fix.status, "
            "'tf': 'tensorflow' in sys.modules, 's': time.monotonic() - t}))")
    t = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**__import__("os").environ, "OPAUDIT_CACHE": str(tmp_path / "cache")})
    wall = time.monotonic() - t
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res == {**res, "hit": True, "status": "fixed", "tf": False}
    assert wall < 15
    assert (tmp_path / "out2" / "model.tflite").read_bytes() == (out / "model.tflite").read_bytes()


@pytest.mark.slow
def test_loop_without_pre_audit_finds_blockers_by_converting(tmp_path, monkeypatch):
    """No pre-audit plan: the converter's errors and the inspected flatbuffer drive the rules."""
    monkeypatch.setenv("OPAUDIT_CACHE", str(tmp_path / "cache"))
    from opaudit.fix import run_fix

    fix = run_fix(MODEL, out=tmp_path / "out", samples=SAMPLES, pre_audit=False, use_cache=False,
                  progress=lambda s: None).to_dict()
    assert fix["status"] == "fixed", fix["reason"]
    its = fix["iterations"]
    assert its[0]["plan"] == {} and its[0]["conversion"]["status"] == "error"
    errors = [(e["tf_op"], e["layer"]) for it in its for e in it["conversion"]["errors"] or []]
    assert ("CropAndResize", "roi_pool") in errors and ("DenseToDenseSetOperation", "detect") in errors
    applied = {(r["rule"], layer) for it in its for r in it["rules_applied"] for layer in r["layers"]}
    assert {("map_fn", "detect"), ("crop_and_resize", "roi_pool"), ("set_operation", "detect"),
            ("nms", "proposals")} <= applied
    # the NMS padding trap was found on the converted flatbuffer, not by the converter
    nms = [f for it in its for f in it["findings"] if f["code"] == "NMS_PADDED_OUTPUT"]
    assert {f["layer"] for f in nms} >= {"proposals"}
    _check_tflite(tmp_path / "out" / "model.tflite")


@pytest.mark.slow
def test_zero_area_boxes_in_per_class_nms_are_fixed(tmp_path, monkeypatch):
    """Zero-area (padding) boxes reach the per-class NMS: TFLite's NMS V4 alone returns repeated
    indices for them; with the `nms` rule the fixed model must still match Keras exactly."""
    monkeypatch.setenv("OPAUDIT_CACHE", str(tmp_path / "cache"))
    from opaudit.fix import run_fix

    model = str(ROOT / "tests/detector_zoo/tiny_detector.py") + ":build_padding_trap"
    fix = run_fix(model, out=tmp_path / "out", samples=SAMPLES, progress=lambda s: None).to_dict()
    assert fix["status"] == "fixed", fix["reason"]
    det = next(o for o in fix["parity"]["outputs"] if o["name"] == "detections")
    assert det["passed"] and det["keras"] == det["tflite"] == det["matched"] > 0


@pytest.mark.slow
def test_parity_failure_is_a_loud_failure(tmp_path, monkeypatch):
    """A (deliberately wrong) third-party rule makes the model builtin-only and runnable but
    changes what it computes: that is a failure, in the result, fix.json and the exit code."""
    monkeypatch.setenv("OPAUDIT_CACHE", str(tmp_path / "cache"))
    zoo = ROOT / "tests/detector_zoo"
    r = subprocess.run(
        [sys.executable, "-m", "opaudit", "fix", "--model", f"{zoo}/erfinv_model.py:build",
         "--samples", f"{zoo}/erfinv_model.py:samples", "--rules", str(zoo / "wrong_erfinv_rule.py"),
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=600, env={**__import__("os").environ, "OPAUDIT_CACHE": str(tmp_path / "cache")})
    assert r.returncode == 1, r.stderr[-2000:]
    assert "PARITY FAILED" in r.stdout
    fix = json.loads((tmp_path / "out" / "fix.json").read_text())
    assert fix["status"] == "failed" and fix["parity"]["passed"] is False
    assert [u["code"] for u in fix["unfixed"]] == ["PARITY_FAILED"]
    # the layer-wise compare names the culprit and the rule that produced it
    assert fix["parity"]["compare"]["verdict"] == "divergent" and fix["parity"]["mode"] == "end-to-end"
    culprit = fix["parity"]["compare"]["first_divergent"]
    assert culprit["layer"] == "erfinv_layer" and culprit["rules"] == ["wrong_erfinv"]
    assert fix["unfixed"][0]["layer"] == "erfinv_layer" and "rule wrong_erfinv" in fix["unfixed"][0]["why"]
    assert "erfinv_layer" in r.stdout and "wrong_erfinv" in r.stdout
    assert fix["iterations"][-1]["non_builtin"] == []  # it converted and ran: parity caught it
    applied = [a for it in fix["iterations"] for a in it.get("rules_applied", [])]
    assert any(a["rule"] == "wrong_erfinv" and "erfinv_layer" in a["layers"] for a in applied), applied
    assert not list((tmp_path / "cache").glob("*/fix.json"))  # failures are not cached

def test_check_emits_compares_declared_ops_with_the_layers_ops():
    from opaudit.findings import Operator
    from opaudit.fix.loop import check_emits

    def op(i, name, tf_name, kind="builtin"):
        return Operator(0, i, name, kind, 1, (), (), tf_name=tf_name)

    ops = [op(0, "GATHER", "m_1/roi_1/crop/GatherV2"), op(1, "CONCATENATION", "m_1/roi_1/concat"),
           op(2, "FlexTopKV2", "m_1/det_1/TopKV2", "flex"), op(3, "CONV_2D", "m_1/conv_1/Conv2D")]
    [crop, td] = check_emits({"roi": ["crop_and_resize"], "det": ["time_distributed"]}, ops, {"roi", "det", "conv"})
    assert crop.rule == "crop_and_resize" and crop.fired and crop.produced == ["CONCATENATION", "GATHER"]
    assert "GATHER" not in crop.missing and crop.non_builtin == []
    assert td.rule == "time_distributed" and not td.fired and td.non_builtin == ["FlexTopKV2"]
