"""nms rule: V3 (padded, count dropped in TFLite) -> V4 padded + slice to the valid count."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import keras

from rewrites import applied

SIG = [tf.TensorSpec([None, 4], tf.float32), tf.TensorSpec([None], tf.float32)]
MAX_OUT = 10


class Suppress(keras.layers.Layer):
    """NMS then a gather with the result, like mrcnn's proposal layer."""

    def __init__(self, iou, score_threshold, **kw):
        super().__init__(**kw)
        self.iou, self.score_threshold = iou, score_threshold

    def call(self, inputs):
        boxes, scores = inputs
        extra = {} if self.score_threshold is None else {"score_threshold": self.score_threshold}
        keep = tf.image.non_max_suppression(boxes, scores, MAX_OUT, self.iou, **extra)
        return keep, tf.gather(boxes, keep)


def make_model(iou=0.5, score_threshold=None):
    boxes, scores = keras.Input((4,)), keras.Input(())
    keep, kept = Suppress(iou, score_threshold, name="proposals")([boxes, scores])
    return keras.Model([boxes, scores], [keep, kept])


def random_boxes(rng, n):
    """`[n, (y1, x1, y2, x2)]` pixel boxes in a 100x100 image, many overlapping; scores [n]."""
    corner = rng.uniform(0, 80, (n, 2))
    size = rng.uniform(5, 30, (n, 2))
    boxes = np.concatenate([corner, corner + size], axis=1).astype(np.float32)
    return boxes, rng.random(n).astype(np.float32)


def cases(rng):
    yield random_boxes(rng, 40)  # more candidates than MAX_OUT
    yield random_boxes(rng, 4)  # fewer boxes than MAX_OUT
    boxes, scores = random_boxes(rng, 12)
    yield boxes, scores * 0.3  # few (or no) boxes above a 0.4 threshold
    yield np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)  # zero boxes
    boxes, _ = random_boxes(rng, 15)
    yield boxes, np.repeat(np.float32([0.9, 0.5, 0.4]), 5)  # ties: TF keeps lower index first


def test_without_rule_output_is_padded(lite, rng):
    model = make_model()
    tflite = lite.convert(model, SIG)
    assert "NON_MAX_SUPPRESSION_V4" in lite.op_names(tflite)
    boxes, scores = random_boxes(rng, 4)
    keep = lite.run(tflite, boxes, scores)[0]
    assert len(keep) == MAX_OUT != len(model([boxes, scores])[0])


@pytest.mark.parametrize("iou,score_threshold", [(0.5, None), (0.3, 0.4), (0.7, 0.0)])
def test_builtin_ops_and_same_selection(lite, iou, score_threshold):
    model = make_model(iou, score_threshold)
    with applied(model, {"proposals": ["nms"]}):
        tflite = lite.convert(model, SIG)
        eager_model_outputs = [model([b, s]) for b, s in cases(np.random.default_rng(7))]
    assert lite.op_names(tflite) == {"NON_MAX_SUPPRESSION_V4", "SLICE", "RESHAPE", "GATHER",
                                     "TOPK_V2", "SHAPE", "STRIDED_SLICE", "GREATER", "SELECT_V2",
                                     "RANGE", "SUB", "CAST"}
    for (boxes, scores), eager in zip(cases(np.random.default_rng(7)), eager_model_outputs):
        keep, kept = (t.numpy() for t in model([boxes, scores]))
        np.testing.assert_array_equal(eager[0].numpy(), keep)
        np.testing.assert_array_equal(eager[1].numpy(), kept)
        got_keep, got_kept = lite.run(tflite, boxes, scores)
        np.testing.assert_array_equal(got_keep, keep)
        np.testing.assert_array_equal(got_kept, kept)
