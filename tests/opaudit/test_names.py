from opaudit import names


def test_custom_code_kind():
    assert names.custom_code_kind("FlexCropAndResize") == "flex"
    assert names.custom_code_kind("NonMaxSuppressionV3") == "custom"
    assert names.custom_code_kind("Flex") == "custom"


def test_tf_op_type():
    assert names.tf_op_type("FlexCropAndResize") == "CropAndResize"
    assert names.tf_op_type("tf.CropAndResize") == "CropAndResize"
    assert names.tf_op_type("CropAndResize") == "CropAndResize"
    assert names.tf_op_type("Flexible") == "Flexible"  # not a Flex code: lower-case after the prefix
    assert names.tf_op_type(None) is None


def test_scope_suffixes():
    assert names.strip_scope_suffix("roi_align_classifier_1") == "roi_align_classifier"
    assert names.strip_scope_suffix("conv_1_1") == "conv_1"
    assert names.strip_scope_suffix("ROI") == "ROI"
    assert names.has_scope_suffix("rpn_model_1") and not names.has_scope_suffix("rpn_model")
    assert names.strip_path_suffixes("functional_1/rpn_model_1/rpn_conv_shared") == "functional/rpn_model/rpn_conv_shared"
