"""nms rule: V3 (padded, count dropped in TFLite) -> V4 padded + slice to the valid count, with
TF's tie order, TF's `IoU > t` and TF's handling of zero-area boxes (IoU 0 with everything)."""

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
    assert lite.op_names(tflite) == OPS
    for (boxes, scores), eager in zip(cases(np.random.default_rng(7)), eager_model_outputs):
        keep, kept = (t.numpy() for t in model([boxes, scores]))
        np.testing.assert_array_equal(eager[0].numpy(), keep)
        np.testing.assert_array_equal(eager[1].numpy(), kept)
        got_keep, got_kept = lite.run(tflite, boxes, scores)
        np.testing.assert_array_equal(got_keep, keep)
        np.testing.assert_array_equal(got_kept, kept)


# --- degenerate boxes, exact thresholds -----------------------------------------------------

BOX, ZERO = [0.1, 0.1, 0.5, 0.5], [0.0, 0.0, 0.0, 0.0]


def degenerate_cases():
    """`(boxes [n, (y1, x1, y2, x2)] float32, scores [n] float32)` where TFLite's V4 and TF differ."""
    f = np.float32
    yield f([BOX, BOX, ZERO, BOX]), f([0.9, 0.8, 0.7, 0.6])  # measured: TFLite [0 1 2 2]
    yield f([BOX, [0.6, 0.6, 0.9, 0.9], ZERO, [0.2, 0.6, 0.4, 0.9]]), f([4, 3, 2, 1])
    yield np.zeros((6, 4), f), f([0.5, 0.9, 0.5, 0.2, 0.9, 0.3])  # all zero, ties, = 0.3
    # the same box flipped three ways (area > 0 after min/max: all overlap), a point inside it,
    # a line box (zero width) and a box with y1 > y2 and zero width
    yield (f([[0.5, 0.5, 0.1, 0.1], BOX, [0.5, 0.1, 0.1, 0.5], [0.3, 0.3, 0.3, 0.3],
              [0.2, 0.2, 0.4, 0.2], [0.4, 0.3, 0.2, 0.3]]), f([0.4, 0.9, 0.6, 0.95, 0.3, 0.7]))
    # negative coordinates, huge coordinates (the isolated boxes must stay away from them)
    yield (f([[-3, -3, -1, -1], [-2, -2, -2, -2], [0, 0, 1e18, 1e18], [0, 0, 1e18, 0.6e18],
              ZERO, [1e18, 1e18, 1e18, 1e18]]), f([0.8, 0.7, 0.9, 0.85, 0.6, 0.95]))
    # grid boxes: IoU exactly 0.5, disjoint (IoU 0), identical (IoU 1) -- TF suppresses only `>`
    yield (f([[0, 0, 1, 3], [0, 1, 1, 4], [2, 0, 3, 1], [2, 0, 3, 1], [0, 0, 0, 5]]),
           f([0.9, 0.8, 0.7, 0.6, 0.5]))


def random_degenerate(rng, n):
    """`n` boxes `[n, 4]` on an integer grid (exact IoUs, duplicates) mixed with zero-area,
    line, all-zero and flipped boxes; scores `[n]` in steps of 0.1 (ties, equal to 0.3)."""
    corner = rng.integers(0, 6, (n, 2)).astype(np.float32)
    size = rng.integers(1, 4, (n, 2)).astype(np.float32)
    kind = rng.integers(0, 6, n)
    size[kind == 1] = 0.0  # point
    size[kind == 2, rng.integers(0, 2)] = 0.0  # line
    boxes = np.concatenate([corner, corner + size], axis=1)
    boxes[kind == 3] = 0.0  # padding row
    flip = kind == 4
    boxes[flip] = boxes[flip][:, [2, 3, 0, 1]]  # (y2, x2, y1, x1): TF normalizes with min/max
    dup = rng.random(n) < 0.2
    if n:
        boxes[dup] = boxes[rng.integers(0, n, int(dup.sum()))]
    return boxes.astype(np.float32), (rng.integers(0, 11, n) / 10).astype(np.float32)


OPS = {"NON_MAX_SUPPRESSION_V4", "TOPK_V2", "GATHER", "SLICE", "RESHAPE", "SHAPE", "STRIDED_SLICE",
       "GREATER", "SELECT_V2", "RANGE", "SUB", "CAST", "MAXIMUM", "MINIMUM", "MUL", "ADD",
       "LESS_EQUAL", "LOGICAL_AND", "REDUCE_MAX", "PACK", "BROADCAST_TO"}


def tf_nms(boxes, scores, iou, score_threshold):
    """TF's V3 result `[M]` int32 for `boxes [n, 4]`, `scores [n]` (None: default threshold)."""
    extra = {} if score_threshold is None else {"score_threshold": score_threshold}
    return tf.image.non_max_suppression(boxes, scores, MAX_OUT, iou, **extra).numpy()


def test_builtin_v4_is_wrong_on_degenerate_boxes(lite):
    """The padded builtin sliced to its count (the rule without its box and threshold fixes)."""

    def v4(xs):
        boxes, scores = xs
        sel, valid = tf.raw_ops.NonMaxSuppressionV4(
            boxes=boxes, scores=scores, max_output_size=MAX_OUT, iou_threshold=0.5,
            score_threshold=float("-inf"), pad_to_max_output_size=True)
        return tf.slice(sel, [0], tf.reshape(valid, [1]))

    tflite = lite.convert(v4, SIG)
    assert lite.op_names(tflite) == {"NON_MAX_SUPPRESSION_V4", "SLICE", "RESHAPE"}
    f = np.float32
    got = lite.run(tflite, f([BOX, BOX, ZERO, BOX]), f([0.9, 0.8, 0.7, 0.6]))[0]
    assert got.tolist() == [0, 2, 2, 2]  # the zero box, selected again and again
    assert tf_nms(f([BOX, BOX, ZERO, BOX]), f([0.9, 0.8, 0.7, 0.6]), 0.5, None).tolist() == [0, 2]
    got = lite.run(tflite, np.zeros((4, 4), f), f([4, 3, 2, 1]))[0]
    assert got.tolist() == [0, 0, 0, 0] != tf_nms(np.zeros((4, 4), f), f([4, 3, 2, 1]), 0.5, None).tolist()
    half = f([[0, 0, 1, 3], [0, 1, 1, 4]])  # IoU exactly 0.5: TF keeps both, TFLite uses >=
    assert lite.run(tflite, half, f([2, 1]))[0].tolist() == [0] != tf_nms(half, f([2, 1]), 0.5, None).tolist()


@pytest.mark.parametrize("iou,score_threshold", [
    (0.5, None), (0.5, float("-inf")), (0.3, 0.0), (0.0, 0.3), (1.0, 0.0), (0.7, 0.3)])
def test_degenerate_boxes_match_tf(lite, iou, score_threshold):
    model = make_model(iou, score_threshold)
    inputs = list(degenerate_cases()) + list(cases(np.random.default_rng(3)))
    rng = np.random.default_rng(int(iou * 10) + 100)
    inputs += [random_degenerate(rng, n) for n in rng.integers(0, 25, 40)]
    with applied(model, {"proposals": ["nms"]}):
        tflite = lite.convert(model, SIG)
        eager = [model([b, s])[0].numpy() for b, s in inputs[:12]]
    # iou 1: TF suppresses nothing, every box is isolated and no area is computed
    all_isolated = OPS - {"MINIMUM", "LOGICAL_AND", "LESS_EQUAL"} | {"FILL"}
    assert lite.op_names(tflite) == (OPS if iou < 1 else all_isolated)
    for k, (boxes, scores) in enumerate(inputs):
        want = tf_nms(boxes, scores, iou, score_threshold)
        got_keep, got_kept = lite.run(tflite, boxes, scores)
        np.testing.assert_array_equal(got_keep, want, err_msg=f"input {k}: {boxes.tolist()}")
        np.testing.assert_array_equal(got_kept, boxes[want])
        if k < len(eager):
            np.testing.assert_array_equal(eager[k], want)


class DynamicSuppress(keras.layers.Layer):
    """NMS whose IoU threshold is a model input `[1]` (not a constant at trace time)."""

    def call(self, inputs):
        boxes, scores, iou = inputs
        return tf.image.non_max_suppression(boxes, scores, MAX_OUT, iou[0], score_threshold=0.3)


def test_dynamic_iou_threshold(lite):
    boxes, scores, iou = keras.Input((4,)), keras.Input(()), keras.Input((), batch_size=1)
    model = keras.Model([boxes, scores, iou], DynamicSuppress(name="proposals")([boxes, scores, iou]))
    sig = SIG + [tf.TensorSpec([1], tf.float32)]
    with applied(model, {"proposals": ["nms"]}):
        tflite = lite.convert(model, sig)
    assert lite.op_names(tflite) == OPS | {"BITCAST", "ABS", "GREATER_EQUAL", "LESS", "SELECT"}
    rng = np.random.default_rng(5)
    inputs = list(degenerate_cases()) + [random_degenerate(rng, 20) for _ in range(10)]
    for t in (0.0, 0.5, 1.0, 0.3):
        for boxes, scores in inputs:
            got = lite.run(tflite, boxes, scores, np.float32([t]))[0]
            np.testing.assert_array_equal(got, tf_nms(boxes, scores, t, 0.3), err_msg=f"t={t}")
