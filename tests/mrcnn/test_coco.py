import pytest


@pytest.mark.slow
def test_coco_config_builds_with_reference_shapes():
    from mrcnn import MaskRCNN, get_config
    model = MaskRCNN(get_config("coco"), seed=0)
    km = model.keras_model
    shapes = {
        "conv1": (7, 7, 3, 64), "res4w_branch2c": (1, 1, 256, 1024),
        "fpn_c5p5": (1, 1, 2048, 256), "mrcnn_class_conv1": (7, 7, 256, 1024),
        "mrcnn_class_logits": (1024, 81), "mrcnn_bbox_fc": (1024, 324),
        "mrcnn_mask": (1, 1, 256, 81),
    }
    for name, shape in shapes.items():
        assert tuple(km.get_layer(name).weights[0].shape) == shape, name
    assert "res4x_branch2a" not in {l.name for l in km.layers}  # resnet101: blocks a..w
    assert [tuple(o.shape) for o in km.outputs][:5] == [
        (1, 100, 6), (1, 1000, 81), (1, 1000, 81, 4), (1, 100, 28, 28, 81), (1, 1000, 4)]
    assert model.get_anchors((1024, 1024, 3)).shape == (261888, 4)
