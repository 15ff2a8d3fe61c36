"""Helpers for the report tests: synthetic ModelReports and a headless Chromium session.

`sample_report(n, hostile=...)` builds a ModelReport directly from the dataclasses (no .tflite
needed): a chain of CONV_2D / ADD / RESHAPE nodes with a Flex op, a custom op and some GPU-only
blocks, shaped like a Mask R-CNN audit. `chromium` is a module-scoped selenium fixture using
Debian's /usr/bin/chromium + /usr/bin/chromedriver with network features off.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from opaudit.findings import (
    Code, Finding, ModelReport, Operator, ProbeResult, SubgraphInfo, Support, TensorInfo,
)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
HOSTILE = ('<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>'
           '</script><b>\'"&amp; \u2028\u2029 \u00e9\u4e2d\U0001f600')
LONG = "L" * 20_000  # one unbreakable 20,000-character name


def _layer(i: int, hostile: bool) -> str:
    if hostile and i % 7 == 3:
        return f"layer_{i}_{HOSTILE}"
    if hostile and i == 5:
        return LONG
    return f"model/block_{i // 10}/conv_{i % 10}"


def sample_report(n: int = 40, *, hostile: bool = False) -> ModelReport:
    """A report of `n` operators in subgraph 0 (+ 2 in a WHILE body subgraph 1).

    Node i reads tensor i and writes tensor i+1 (plus every 5th node also reads tensor i-3, to
    give the neighbourhood graphs some fan-in). Nodes 7, 7+n//3 are Flex / custom (blocked on
    cpu); every 4th ADD is blocked on gpu only.
    """
    ops, tensors, findings = [], [], []
    flex_at, custom_at = 7 % n, (7 + n // 3) % n
    for t in range(n + 1):
        name = f"{_layer(t, hostile)}/out_{t}" if t else "input_image"
        tensors.append(TensorInfo(0, t, name, "float32", (1, 32, 32, 8), None, 0, 0))
    for i in range(n):
        inputs = (i, i - 3) if i % 5 == 0 and i >= 3 else (i,)
        kind, op, tf_op = "builtin", ("CONV_2D", "ADD", "RESHAPE")[i % 3], None
        if i == flex_at:
            kind, op, tf_op = "flex", "FlexCropAndResize", "CropAndResize"
        elif i == custom_at:
            kind, op, tf_op = "custom", HOSTILE if hostile else "NonMaxSuppressionV3", "NonMaxSuppressionV3"
        layer = _layer(i, hostile)
        ops.append(Operator(0, i, op, kind, 1, inputs, (i + 1,), tf_op=tf_op,
                            node_name=f"{layer}/{op}", layer=layer, layer_source="tensor_name"))
        if kind == "flex":
            findings.append(Finding(Code.FLEX_OP, "error", f"{op} needs the Flex delegate", 0, i, op, layer,
                                    ("cpu", "xnnpack", "gpu"), error=f"Node number {i} ({op}) failed to prepare."))
        elif kind == "custom":
            findings.append(Finding(Code.UNRESOLVED_CUSTOM_OP, "error", f"custom op {op} has no kernel",
                                    0, i, op, layer, ("cpu", "xnnpack", "gpu"),
                                    error=f"Encountered unresolved custom op: {op}."))
        elif op == "ADD" and i % 4 == 1:
            findings.append(Finding(Code.GPU_UNSUPPORTED, "error", "ADD with broadcast not delegated",
                                    0, i, op, layer, ("gpu",)))
    # a WHILE body subgraph
    for j in range(2):
        tensors.append(TensorInfo(1, j, f"while/body/t{j}", "int32", (), None, 0, 0))
        ops.append(Operator(1, j, "LESS" if j == 0 else "ADD", "builtin", 1, (j,), (j + 1,)))
    names = sorted({o.op for o in ops})
    support = {op: {"cpu": Support("yes"), "xnnpack": Support("partial", "float32 only"),
                    "gpu": Support("partial", "ADD: broadcast of rank > 4 unsupported")} for op in names}
    support["FlexCropAndResize"] = {t: Support("no", "Flex op: no Select-TF kernels in this runtime")
                                    for t in ("cpu", "xnnpack", "gpu")}
    findings.append(Finding(Code.OP_EXPLOSION, "warning", "TimeDistributed unrolled into 6 CONV_2D",
                            layer="mrcnn_mask_conv1"))
    probe = ProbeResult("prepare_failed", "ai_edge_litert 2.3.0", "allocate",
                        f"Node number {flex_at} (FlexCropAndResize) failed to prepare.",
                        {"subgraph": 0, "index": flex_at, "op": "FlexCropAndResize"}, seconds=0.31)
    return ModelReport(
        path=f"/models/{'<b>evil</b>' if hostile else 'mask_rcnn'}.tflite", size=52_428_800,
        sha256="ab" * 32, version=3, description="MLIR Converted." if not hostile else HOSTILE,
        subgraphs=[SubgraphInfo(0, "", (0,), (n,), n, n + 1), SubgraphInfo(1, "while_body", (0,), (2,), 2, 3)],
        operators=ops, tensors=tensors,
        signatures=[{"key": "serving_default", "subgraph": 0, "inputs": {"image": 0}, "outputs": {"output_0": n}}],
        metadata={"min_runtime_version": {"size": 16}, **({HOSTILE: HOSTILE} if hostile else {})},
        min_runtime_version="2.3.0", support=support, findings=findings, probe=probe, target="cpu",
        tool={"opaudit": "0.1.0", "support_data": "tf 2.21.0", "runtime": "ai_edge_litert 2.3.0"},
    )


def sample_fix(hostile: bool = False) -> dict:
    """A fix.json dict (docs/fix-json.md) of a two-iteration run."""
    layer = HOSTILE if hostile else "roi_align_classifier"
    return {
        "schema_version": 1, "status": "fixed", "reason": "builtin-only, invokes, parity passed",
        "model": {"source": "mrcnn", "config": "small", "weights": None,
                  "inputs": [{"name": "input_image", "shape": [1, 256, 256, 3], "dtype": "float32"}]},
        "tool": {"opaudit": "0.1.0", "tensorflow": "2.21.0"},
        "pre_audit": {"seconds": 3.2, "findings": [
            {"code": "CONVERTER_ERROR", "severity": "error", "message": "CropAndResize needs Flex", "layer": layer}]},
        "iterations": [
            {"n": 1, "plan": {}, "conversion": {"status": "error", "seconds": 12.3, "peak_rss_mb": 1800, "errors": [
                {"code": "ERROR_NEEDS_FLEX_OPS", "op": "tf.CropAndResize", "layer": layer,
                 "message": HOSTILE if hostile else "'tf.CropAndResize' op is neither a custom op nor a flex op"}]},
             "size": None, "op_histogram": {}, "findings": [], "probe": None,
             "rules_applied": [{"rule": "crop_and_resize", "layers": [layer], "answers": ["CONVERTER_ERROR"],
                                "tf_ops": ["CropAndResize"]}]},
            {"n": 2, "plan": {layer: ["crop_and_resize"]},
             "conversion": {"status": "ok", "seconds": 20.1, "errors": []}, "size": 51_000_000,
             "op_histogram": {"CONV_2D": 57, "GATHER_ND": 8}, "findings": [{"code": "OP_EXPLOSION"}],
             "probe": {"status": "ok", "runtime": "ai_edge_litert 2.3.0"}, "rules_applied": []},
        ],
        "op_histogram_before": {"CONV_2D": 57, "FlexCropAndResize": 2},
        "op_histogram_after": {"CONV_2D": 57, "GATHER_ND": 8},
        "parity": {"passed": True, "samples": 2, "bar": {"rel": 1e-4, "box": 1e-4},
                   "note": "untrained mrcnn", "outputs": [
                       {"name": "mrcnn_class", "kind": "dense", "shape": [1, 64, 4], "max_abs": 1e-7,
                        "max_rel": 2e-6, "passed": True},
                       {"name": "detections", "kind": "detections", "keras": 16, "tflite": 16, "matched": 16,
                        "max_box_err": 1e-6, "max_score_err": 1e-7, "passed": True},
                       {"name": "mrcnn_mask", "kind": "masks", "min_iou": 0.998, "passed": True}]},
        "unfixed": [], "artifacts": {"model": "model.tflite", "report": "report.html"},
        "cache": {"key": "0" * 64, "hit": False}, "seconds": 95.2,
    }


def _missing() -> str | None:
    for b in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(b):
            return f"{b} is not installed (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e .[dev])"
    return None


def make_driver(profile: str, width: int = 1280, height: int = 900):
    """Headless Chromium (selenium) with network features off and browser/performance logs."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--window-size={width},{height}", f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    return driver


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium per test module (fresh profile directory, removed afterwards)."""
    why = _missing()
    if why:
        pytest.skip(why)
    profile = tempfile.mkdtemp(prefix="opaudit-chromium-")
    driver = make_driver(profile)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def load(driver, html: str, directory: Path, name: str) -> str:
    """Write `html` to directory/name, open it, drain old logs; returns the file URL."""
    path = directory / name
    path.write_text(html, encoding="utf-8")
    driver.get_log("browser")
    driver.get_log("performance")
    url = path.resolve().as_uri()
    driver.get(url)
    return url
