import numpy as np
import tensorflow as tf

from mrcnn.roi_align import PyramidROIAlign, roi_levels_graph


def _square(side_px, image_px=1024, y=0.0):
    s = side_px / image_px
    return [y, 0.0, y + s, s]


def test_level_assignment_known_answers():
    sizes = [224, 112, 448, 56, 10, 1000, 160, 300, 320]
    boxes = tf.constant([[_square(s) for s in sizes]], tf.float32)
    levels = roi_levels_graph(boxes, tf.constant([1024.0, 1024.0, 3.0])).numpy()[0]
    # 224 -> 4; halving/doubling moves one level; clipped to 2..5; round(log2(s / 224)):
    # 160 -> -0.49 -> 4, 300 -> 0.42 -> 4, 320 -> 0.51 -> 5.
    assert levels.tolist() == [4, 3, 5, 2, 2, 5, 4, 4, 5]


def test_level_uses_image_area():
    # The same normalized box is a 224-px box on a 1024 image but 56 px on a 256 image.
    boxes = tf.constant([[_square(224)]], tf.float32)
    assert roi_levels_graph(boxes, tf.constant([1024.0, 1024.0, 3.0])).numpy()[0, 0] == 4
    assert roi_levels_graph(boxes, tf.constant([256.0, 256.0, 3.0])).numpy()[0, 0] == 2
    whole = tf.constant([[_square(224, 256)]], tf.float32)
    assert roi_levels_graph(whole, tf.constant([256.0, 256.0, 3.0])).numpy()[0, 0] == 4


def test_pyramid_roi_align_order_and_values():
    image = 1024  # meta image size; the maps are kept tiny (crops use normalized coordinates)
    rng = np.random.default_rng(0)
    maps = [rng.normal(size=(1, 64 // s, 64 // s, 3)).astype(np.float32) for s in (1, 2, 4, 8)]
    # Boxes deliberately interleave levels: 5, 2, 4, 3, 2.
    sides = [448, 56, 224, 112, 30]
    boxes = np.array([[_square(s, image, y=0.0) for s in sides]], np.float32)
    meta = np.zeros((1, 16), np.float32)
    meta[0, 4:7] = [image, image, 3]
    layer = PyramidROIAlign([5, 5], name="roi_align_test")
    out = layer([tf.constant(boxes), tf.constant(meta)] + [tf.constant(m) for m in maps]).numpy()
    assert out.shape == (1, 5, 5, 5, 3)
    expected_level = [5, 2, 4, 3, 2]
    for i, level in enumerate(expected_level):
        ref = tf.image.crop_and_resize(maps[level - 2], boxes[0, i:i + 1], [0], [5, 5]).numpy()[0]
        np.testing.assert_allclose(out[0, i], ref, rtol=1e-6, atol=1e-6)
