"""Rule selection over findings, and the cache key / store / lookup (no TensorFlow)."""

from opaudit.fix import cache, sources
from opaudit.fix.select import extend_plan


def _f(code, layer, tf_op=None, severity="error"):
    return {"code": code, "severity": severity, "layer": layer, "op": tf_op, "detail": {"tf_op": tf_op},
            "message": f"{tf_op} at {layer}"}


def test_extend_plan_picks_rules_for_mapped_layers_only():
    findings = [_f("CONVERTER_ERROR", "roi_align_classifier", "tf.CropAndResize"),
                _f("CONVERTER_ERROR", "roi_align_mask", "CropAndResize"),
                _f("TENSOR_LIST_OPS", "mrcnn_detection", "TensorListReserve"),
                _f("OP_EXPLOSION", "mrcnn_class_conv1", None, "warning")]
    plan, applied, unfixed = extend_plan({}, findings, {"mrcnn_class_conv1": ["time_distributed"]})
    assert plan == {"roi_align_classifier": ["crop_and_resize"], "roi_align_mask": ["crop_and_resize"],
                    "mrcnn_detection": ["map_fn"], "mrcnn_class_conv1": ["time_distributed"]}
    by_rule = {a["rule"]: a for a in applied}
    assert by_rule["crop_and_resize"]["layers"] == ["roi_align_classifier", "roi_align_mask"]
    assert by_rule["crop_and_resize"]["answers"] == ["CONVERTER_ERROR"]
    assert unfixed == []


def test_extend_plan_reports_what_has_no_rule():
    findings = [_f("CONVERTER_ERROR", "my_layer", "tf.EagerPyFunc"),
                _f("CONVERTER_ERROR", None, "CropAndResize"),
                _f("CONVERTER_ERROR", "roi", "CropAndResize")]
    plan, applied, unfixed = extend_plan({"roi": ["crop_and_resize"]}, findings, {})
    assert plan == {"roi": ["crop_and_resize"]} and applied == []
    why = {(u["op"], u["layer"]): u["why"] for u in unfixed}
    assert why[("tf.EagerPyFunc", "my_layer")] == "no rule for this op/layer"
    assert "maps to no Keras layer" in why[("CropAndResize", None)]
    assert "already applied to roi" in why[("CropAndResize", "roi")]


def test_warnings_without_a_fresh_rule_are_not_unfixed():
    findings = [_f("NMS_PADDED_OUTPUT", "ROI", "NonMaxSuppressionV3", "warning"),
                _f("OP_EXPLOSION", "detect", None, "warning")]
    plan, applied, unfixed = extend_plan({"ROI": ["nms"]}, findings, {})
    assert plan == {"ROI": ["nms"]} and applied == [] and unfixed == []


def test_cache_key_store_lookup(tmp_path, monkeypatch):
    monkeypatch.setenv("OPAUDIT_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "m.py"
    model.write_text("def build():\n    return None\n")
    spec = sources.describe(f"{model}:build")
    k1 = cache.key(spec, samples=None, rules=(), options={"max_iterations": 6})
    assert k1 == cache.key(spec, samples=None, rules=(), options={"max_iterations": 6})
    assert k1 != cache.key(spec, samples=None, rules=(), options={"max_iterations": 5})
    rules = tmp_path / "r.py"
    rules.write_text("# rule v1\n")
    k2 = cache.key(spec, samples=None, rules=[str(rules)], options={"max_iterations": 6})
    rules.write_text("# rule v2\n")
    assert k2 != cache.key(spec, samples=None, rules=[str(rules)], options={"max_iterations": 6})
    model.write_text("def build():\n    return 1\n")
    assert k1 != cache.key(spec, samples=None, rules=(), options={"max_iterations": 6})
    assert cache.lookup(k1) is None
    (tmp_path / "model.tflite").write_bytes(b"tfl")
    (tmp_path / "fix.json").write_text("{}")
    cache.store(k1, {"model.tflite": tmp_path / "model.tflite", "fix.json": tmp_path / "fix.json",
                     "report.html": tmp_path / "absent.html"})
    entry = cache.lookup(k1)
    assert entry is not None and (entry / "model.tflite").read_bytes() == b"tfl"
    assert not (entry / "report.html").exists()


def test_describe_mrcnn_identity_covers_package_source():
    spec = sources.describe("mrcnn", "small")
    assert spec["kind"] == "mrcnn" and spec["config"] == "small"
    names = {p.name for p in sources.identity_files(spec)}
    assert {"model.py", "config.py"} <= names
