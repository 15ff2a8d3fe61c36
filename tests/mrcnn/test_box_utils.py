import numpy as np
import tensorflow as tf

from mrcnn import box_utils as bu


def test_decode_hand_computed():
    box = np.array([[10.0, 20.0, 30.0, 60.0]])  # h 20, w 40, centre (20, 40)
    d = np.array([[0.5, -0.25, np.log(2.0), 0.0]])
    # centre y 20 + 0.5*20 = 30, x 40 - 0.25*40 = 30, h 40, w 40
    np.testing.assert_allclose(bu.decode_boxes(box, d), [[10, 10, 50, 50]], rtol=1e-6)
    np.testing.assert_allclose(bu.decode_boxes_tf(tf.constant(box, tf.float32),
                                                         tf.constant(d, tf.float32)).numpy(),
                               [[10, 10, 50, 50]], rtol=1e-6)


def test_encode_hand_computed_and_round_trip():
    box = np.array([[0.0, 0.0, 10.0, 10.0], [5.0, 5.0, 25.0, 45.0]])
    gt = np.array([[2.0, 4.0, 22.0, 9.0], [0.0, 0.0, 10.0, 10.0]])
    d = bu.encode_boxes(box, gt)
    np.testing.assert_allclose(d[0], [(12 - 5) / 10, (6.5 - 5) / 10, np.log(2.0), np.log(0.5)],
                               rtol=1e-6)
    np.testing.assert_allclose(bu.decode_boxes(box, d), gt, atol=1e-4)
    tf_out = bu.decode_boxes_tf(tf.constant(box, tf.float32), tf.constant(d, tf.float32))
    np.testing.assert_allclose(tf_out.numpy(), gt, atol=1e-4)


def test_clip_numpy_and_tf():
    boxes = np.array([[-0.2, 0.1, 0.5, 1.3], [0.3, -1.0, 2.0, 0.4]], dtype=np.float32)
    window = np.array([0.0, 0.0, 1.0, 1.0], dtype=np.float32)
    expected = [[0.0, 0.1, 0.5, 1.0], [0.3, 0.0, 1.0, 0.4]]
    np.testing.assert_allclose(bu.clip_boxes(boxes, window), expected)
    np.testing.assert_allclose(bu.clip_boxes_tf(tf.constant(boxes), tf.constant(window)).numpy(),
                               expected)


def test_norm_denorm_round_trip():
    px = np.array([[0, 0, 256, 256], [10, 20, 110, 60]])
    n = bu.normalize_boxes(px, (256, 256))
    np.testing.assert_allclose(n[0], [0, 0, 1, 1])
    np.testing.assert_allclose(n[1], [10 / 255, 20 / 255, 109 / 255, 59 / 255], rtol=1e-6)
    assert n.dtype == np.float32
    np.testing.assert_array_equal(bu.denormalize_boxes(n, (256, 256)), px)
    tf_n = bu.normalize_boxes_tf(tf.constant(px, tf.float32), tf.constant([256, 256]))
    np.testing.assert_allclose(tf_n.numpy(), n, rtol=1e-6)

