"""Rule selection over findings (no TensorFlow)."""

from opaudit.findings import TARGETS, Finding
from opaudit.fix.rule_plan import candidates, declined_reasons, extend_plan


def _f(code, layer, tf_op=None, severity="error"):
    return Finding(code=code, severity=severity, layer=layer, op=tf_op, detail={"tf_op": tf_op},
                   message=f"{tf_op} at {layer}", targets=TARGETS if severity == "error" else ())


def test_extend_plan_picks_rules_for_mapped_layers_only():
    findings = [_f("CONVERTER_ERROR", "roi_align_classifier", "tf.CropAndResize"),
                _f("CONVERTER_ERROR", "roi_align_mask", "CropAndResize"),
                _f("TENSOR_LIST_OPS", "mrcnn_detection", "TensorListReserve"),
                _f("OP_EXPLOSION", "mrcnn_class_conv1", None, "warning")]
    step = extend_plan({}, findings, {"mrcnn_class_conv1": ["time_distributed"]})
    assert step.plan == {"roi_align_classifier": ["crop_and_resize"], "roi_align_mask": ["crop_and_resize"],
                    "mrcnn_detection": ["map_fn"], "mrcnn_class_conv1": ["time_distributed"]}
    by_rule = {a.rule: a for a in step.applied}
    assert by_rule["crop_and_resize"].layers == ["roi_align_classifier", "roi_align_mask"]
    assert by_rule["crop_and_resize"].answers == ["CONVERTER_ERROR"]
    assert step.unfixed == []


def test_extend_plan_reports_what_has_no_rule():
    findings = [_f("CONVERTER_ERROR", "my_layer", "tf.EagerPyFunc"),
                _f("CONVERTER_ERROR", None, "CropAndResize"),
                _f("CONVERTER_ERROR", "roi", "CropAndResize")]
    step = extend_plan({"roi": ["crop_and_resize"]}, findings, {})
    assert step.plan == {"roi": ["crop_and_resize"]} and step.applied == []
    why = {(u.op, u.layer): u.why for u in step.unfixed}
    assert why[("tf.EagerPyFunc", "my_layer")] == "no rule for this op/layer"
    assert "maps to no Keras layer" in why[("CropAndResize", None)]
    assert "already applied to roi" in why[("CropAndResize", "roi")]


def test_warnings_without_a_fresh_rule_are_not_unfixed():
    findings = [_f("NMS_PADDED_OUTPUT", "ROI", "NonMaxSuppressionV3", "warning"),
                _f("OP_EXPLOSION", "detect", None, "warning")]
    step = extend_plan({"ROI": ["nms"]}, findings, {})
    assert step.plan == {"ROI": ["nms"]} and step.applied == [] and step.unfixed == []


def test_a_speed_hint_plans_its_rule_by_code():
    hint = _f("FULL_WINDOW_CONV", "mrcnn_class_conv1", "CONV_2D", "info")
    assert candidates(hint, {}) == ["full_window_conv"]
    # found by code only when the rule names no TF op / layer type: a converter error keeps its TF op's rules
    assert candidates(_f("CONVERTER_ERROR", "x", "EagerPyFunc"), {}) == []
    plan = {"mrcnn_class_conv1": ["time_distributed"]}
    loop = _f("OP_EXPLOSION", "other", None, "info")  # an info explosion (a loop in the layer): not planned
    step = extend_plan(plan, [hint, loop], {"other": ["time_distributed"]})
    assert step.plan == {"mrcnn_class_conv1": ["time_distributed", "full_window_conv"]} and step.unfixed == []
    [a] = step.applied
    assert (a.rule, a.layers, a.answers) == ("full_window_conv", ["mrcnn_class_conv1"], ["FULL_WINDOW_CONV"])
    # once planned (or declined there) the hint is ignored, never unfixed
    again = extend_plan(step.plan, [hint], {}, declined={("full_window_conv", "mrcnn_class_conv1"): "padding SAME"})
    assert again.plan == step.plan and again.applied == [] and again.unfixed == []
    assert extend_plan({}, [_f("FULL_WINDOW_CONV", None, "CONV_2D", "info")], {}).unfixed == []


def test_a_declining_rule_gives_its_own_reason():
    records = [{"rule": "crop_and_resize", "layer": "roi", "layer_type": "Roi",
                "declined": ["crop_and_resize rule: needs a static crop_size"]},
               {"rule": "nms", "layer": "roi", "layer_type": "Roi", "declined": []}]
    declined = declined_reasons(records)
    assert declined == {("crop_and_resize", "roi"): "crop_and_resize rule: needs a static crop_size"}
    step = extend_plan({"roi": ["crop_and_resize"]}, [_f("CONVERTER_ERROR", "roi", "CropAndResize")], {},
                       declined=declined)
    [u] = step.unfixed
    assert u.why == "rule crop_and_resize declined: crop_and_resize rule: needs a static crop_size"
