import numpy as np
import tensorflow as tf

from mrcnn import get_config
from mrcnn.detection import DetectionLayer, refine_detections_graph
from mrcnn.proposals import ProposalLayer


def _cfg(**kw):
    return get_config("small", DETECTION_MAX_INSTANCES=4, **kw)


def _refine(rois, probs, deltas, cfg, window=(0.0, 0.0, 1.0, 1.0)):
    return refine_detections_graph(tf.constant(rois, tf.float32), tf.constant(probs, tf.float32),
                                   tf.constant(deltas, tf.float32),
                                   tf.constant(window, tf.float32), cfg).numpy()


ROIS = np.array([[0.1, 0.1, 0.3, 0.3],     # class 1, 0.9
                 [0.11, 0.1, 0.31, 0.3],   # class 1, 0.8, overlaps roi 0 -> suppressed
                 [0.11, 0.1, 0.31, 0.3],   # class 2, 0.7, same place, other class -> kept
                 [0.5, 0.5, 0.9, 0.9],     # background
                 [0.6, 0.0, 0.8, 0.2]],    # class 3, 0.5 (below 0.6 threshold)
                np.float32)
PROBS = np.array([[0.05, 0.9, 0.03, 0.02], [0.1, 0.8, 0.05, 0.05], [0.1, 0.1, 0.7, 0.1],
                  [0.9, 0.05, 0.03, 0.02], [0.2, 0.1, 0.2, 0.5]], np.float32)


def test_refine_filters_nms_sorts_and_pads():
    deltas = np.zeros((5, 4, 4), np.float32)
    det = _refine(ROIS, PROBS, deltas, _cfg(DETECTION_MIN_CONFIDENCE=0.6))
    assert det.shape == (4, 6)
    np.testing.assert_allclose(det[0], [0.1, 0.1, 0.3, 0.3, 1, 0.9], rtol=1e-6)
    np.testing.assert_allclose(det[1], [0.11, 0.1, 0.31, 0.3, 2, 0.7], rtol=1e-6)
    np.testing.assert_array_equal(det[2:], 0)
    # Threshold 0 keeps the low-confidence class-3 box too (third, by score).
    det0 = _refine(ROIS, PROBS, deltas, _cfg(DETECTION_MIN_CONFIDENCE=0.0))
    assert det0[:, 4].tolist() == [1, 2, 3, 0]
    assert det0[:3, 5].tolist() == [np.float32(0.9), np.float32(0.7), np.float32(0.5)]


def test_refine_applies_class_specific_deltas_and_clips():
    deltas = np.zeros((5, 4, 4), np.float32)
    deltas[0, 1] = [1.0, 0.0, 0.0, 0.0]  # dy = 1 * 0.1 (BBOX_STD_DEV) of height 0.2 -> +0.02
    deltas[0, 2] = [9.0, 9.0, 9.0, 9.0]  # other class: must be ignored
    deltas[4, 3] = [0.0, -5.0, 0.0, 0.0]  # dx = -0.5 * 0.2 -> x1 = -0.1 -> clipped to window
    det = _refine(ROIS, PROBS, deltas, _cfg(DETECTION_MIN_CONFIDENCE=0.0),
                  window=(0.0, 0.05, 1.0, 1.0))
    np.testing.assert_allclose(det[0, :4], [0.12, 0.1, 0.32, 0.3], atol=1e-6)
    np.testing.assert_allclose(det[2, :4], [0.6, 0.05, 0.8, 0.1], atol=1e-6)


def test_detection_layer_batch_and_window():
    cfg = _cfg(DETECTION_MIN_CONFIDENCE=0.0)
    meta = np.zeros((1, cfg.IMAGE_META_SIZE), np.float32)
    meta[0, 4:7] = [256, 256, 3]
    meta[0, 7:11] = [0, 0, 128, 256]  # image fills the top half only
    out = DetectionLayer(cfg, name="mrcnn_detection")(
        [tf.constant(ROIS[None]), tf.constant(PROBS[None]),
         tf.constant(np.zeros((1, 5, 4, 4), np.float32)), tf.constant(meta)]).numpy()
    assert out.shape == (1, 4, 6)
    # Box of class 3 (rows 0.6..0.8) lies below the window: clipped to the window's bottom edge.
    np.testing.assert_allclose(out[0, 2, [0, 2]], [127 / 255, 127 / 255], rtol=1e-5)


def test_proposal_layer_topk_nms_pad():
    cfg = get_config("small", PRE_NMS_LIMIT=3)
    anchors = np.array([[0.1, 0.1, 0.3, 0.3], [0.1, 0.1, 0.31, 0.3], [0.5, 0.5, 0.7, 0.7],
                        [0.0, 0.0, 0.1, 0.1]], np.float32)
    fg = np.array([0.9, 0.8, 0.7, 0.1], np.float32)
    rpn_class = np.stack([1 - fg, fg], axis=-1)[None]
    rpn_bbox = np.zeros((1, 4, 4), np.float32)
    rpn_bbox[0, 2] = [1.0, 0.0, 0.0, 0.0]  # dy 1 * 0.1 (RPN_BBOX_STD_DEV) * h 0.2 -> +0.02
    layer = ProposalLayer(5, 0.7, cfg, name="ROI")
    out = layer([tf.constant(rpn_class), tf.constant(rpn_bbox), tf.constant(anchors[None])]).numpy()
    assert out.shape == (1, 5, 4)
    np.testing.assert_allclose(out[0, 0], [0.1, 0.1, 0.3, 0.3], atol=1e-6)
    np.testing.assert_allclose(out[0, 1], [0.52, 0.5, 0.72, 0.7], atol=1e-6)
    np.testing.assert_array_equal(out[0, 2:], 0)  # anchor 1 suppressed, anchor 3 beyond PRE_NMS
