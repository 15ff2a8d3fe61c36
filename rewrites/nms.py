"""`NonMaxSuppressionV3` -> builtin NON_MAX_SUPPRESSION_V4 fed so that it returns V3's result.

The converter lowers `tf.image.non_max_suppression` (V3) to the builtin NON_MAX_SUPPRESSION_V4
but keeps only its padded index output (always `max_output_size` long, zeros after the valid
ones) and drops the valid count. Calling V4 ourselves with `pad_to_max_output_size=True` keeps
the count, and slicing `[:valid]` gives the selection. TFLite's kernel (ai-edge-litert 2.3.0)
differs from TensorFlow's in three more ways, measured here and visible in its source
(`tensorflow/lite/kernels/internal/reference/non_max_suppression.h`):

1. ties: it orders candidates by score only (unstable); TF takes the lower index first;
2. it suppresses when `IoU >= iou_threshold`; TF when `IoU > iou_threshold` (measured: IoU
   exactly 0.5 at threshold 0.5, disjoint boxes at threshold 0, identical boxes at threshold 1);
3. after selecting a box it pushes it back on its queue; the box is popped again at once and
   compared with itself. A box of positive area has IoU 1 with itself and is dropped, but for a
   box of zero (or inf/NaN) area the IoU is 0, so it is selected again (measured: boxes
   `[b, b, 0, b]` -> `[0, 1, 2, 2]` instead of `[0, 1, 2, 3]`; all-zero boxes -> `[0, 0, 0, 0]`).

`nms_valid` neutralizes each one with builtin ops; the docstring of `nms` proves the result.
"""

from __future__ import annotations

from rewrites.registry import rule

_FLOAT32_MAX = 3.4028234663852886e38


def nms_valid(boxes, scores, max_output_size, iou_threshold, score_threshold):
    """Greedy NMS with V3's exact result, from ops that lower to TFLite builtins.

    Args:
        boxes: `[num_boxes, 4]` float, `(y1, x1, y2, x2)` in any consistent units (pixel or
            normalized; corners in either order, as TF allows).
        scores: `[num_boxes]` float.
        max_output_size: scalar int, upper bound on the number of boxes kept.
        iou_threshold: scalar float in `[0, 1]` (V3 rejects other values); static or a tensor.
        score_threshold: scalar float; a box is a candidate iff its score is `>` it.

    Returns:
        `[M]` int32 indices into `boxes`, in the order V3 selects them, `M <= max_output_size`.
    """
    import tensorflow as tf
    from tensorflow.python.ops import gen_image_ops

    scores = tf.convert_to_tensor(scores)
    count = tf.shape(scores)[0]
    rank = tf.range(count)  # [N] position in TF's visiting order
    # 1. Visit candidates in TF's order (TOPK_V2 breaks ties by lower index) with distinct
    #    surrogate scores N, N-1, ..., 1; candidates at or below the threshold get -1.
    order = tf.math.top_k(scores, k=count, sorted=True).indices  # [N]
    passing = tf.gather(scores, order) > tf.cast(score_threshold, scores.dtype)
    surrogate = tf.where(passing, tf.cast(count - rank, tf.float32), -1.0)
    # 2. `IoU >= next float above t` is `IoU > t`.
    lite_threshold, isolate_all = _lite_iou_threshold(iou_threshold)
    # 3. Boxes that never suppress and are never suppressed in TF become disjoint unit boxes.
    lite_boxes = _isolate(tf.cast(tf.gather(boxes, order), tf.float32), rank, isolate_all)
    selected, valid = gen_image_ops.non_max_suppression_v4(
        lite_boxes, surrogate, max_output_size, lite_threshold, 0.0, pad_to_max_output_size=True,
    )
    return tf.gather(order, tf.slice(selected, [0], tf.reshape(valid, [1])))


def _lite_iou_threshold(iou_threshold):
    """`(t', isolate_all)`: the smallest float32 above `t` for TFLite's `>=` when `t < 1`.

    For `t >= 1` TF suppresses nothing (its IoU never exceeds 1), so every box is isolated and
    `t' = 1` (only needed for the self-comparison of point 3). A static `t` gives constants;
    a tensor `t` is bumped with BITCAST (+1 on the bit pattern of `|t|`; `|-0.0| = +0.0`).
    """
    import numpy as np
    import tensorflow as tf

    static = tf.get_static_value(iou_threshold)
    if static is not None:
        t = abs(np.float32(static))
        if t >= 1:
            return tf.constant(1.0, tf.float32), True
        return tf.constant(np.nextafter(t, np.float32(np.inf)), tf.float32), False
    t = tf.abs(tf.cast(iou_threshold, tf.float32))
    bumped = tf.bitcast(tf.bitcast(t, tf.int32) + 1, tf.float32)
    at_one = t >= 1.0
    return tf.where(at_one, 1.0, bumped), at_one


def _isolate(boxes, rank, isolate_all):
    """Replace boxes of area <= 0, inf or NaN (all boxes if `isolate_all`) by disjoint unit boxes.

    Args:
        boxes: `[N, (y1, x1, y2, x2)]` float32 in visiting order, any units.
        rank: `[N]` int32, `0..N-1`.
        isolate_all: Python bool or scalar bool tensor.

    Returns:
        `[N, 4]` float32: kept boxes unchanged; box `r` isolated becomes
        `[top, 2r, top + h, 2r + 1]` with `top >= every kept box's max(y1, y2)` and `h > 0`.
    """
    import tensorflow as tf

    y1, x1, y2, x2 = (boxes[:, k] for k in range(4))  # not unstack: UNPACK rejects 0 boxes
    y_max = tf.maximum(y1, y2)
    if isolate_all is True:
        kept = tf.zeros_like(rank, tf.bool)
    else:
        # TF's area: corners normalized with min/max first, float32, same operation order.
        area = (y_max - tf.minimum(y1, y2)) * (tf.maximum(x1, x2) - tf.minimum(x1, x2))
        kept = tf.logical_and(area > 0.0, area <= _FLOAT32_MAX)  # False for 0, <0, inf and NaN
        if isolate_all is not False:
            kept = tf.logical_and(kept, tf.logical_not(isolate_all))
    top = tf.reduce_max(tf.where(kept, y_max, 0.0))  # >= 0 whenever a box is isolated
    bottom = top + tf.maximum(top, 1.0) * 2.0**-20  # > top: the step is >= 8 ulps of top
    left = tf.cast(2 * rank, tf.float32)  # exact integers for N <= 2^23
    ones = tf.ones_like(left)
    unit = tf.stack([top * ones, left, bottom * ones, left + 1.0], axis=1)
    return tf.where(kept[:, None], boxes, unit)


@rule(
    tf_ops=("NonMaxSuppressionV3",),
    codes=("NMS_PADDED_OUTPUT", "PARITY_FAILED"),
    # measured: the first row for a constant iou_threshold < 1; FILL (iou_threshold 1); the
    # last row only for an iou_threshold tensor
    emits=("NON_MAX_SUPPRESSION_V4", "TOPK_V2", "GATHER", "SLICE", "RESHAPE", "SHAPE",
           "STRIDED_SLICE", "GREATER", "SELECT_V2", "RANGE", "SUB", "CAST", "MAXIMUM", "MINIMUM",
           "MUL", "ADD", "LESS_EQUAL", "LOGICAL_AND", "REDUCE_MAX", "PACK", "BROADCAST_TO", "FILL",
           "BITCAST", "ABS", "GREATER_EQUAL", "LESS", "SELECT"),
    patches=("tensorflow.python.ops.gen_image_ops.non_max_suppression_v3",),
)
def nms(original, boxes, scores, max_output_size, iou_threshold, score_threshold, name=None):
    """NMS V3 as TFLite's NON_MAX_SUPPRESSION_V4 with V3's exact indices, order and length.

    TF's V3 (CPU kernel): candidates are the boxes with `score > score_threshold`, visited by
    score, ties by lower index; a candidate is kept unless its IoU with an already kept box is
    `> t` (`t` = iou_threshold in `[0, 1]`); stop after `max_output_size`. IoU normalizes the
    corners with min/max; if either area `(ymax-ymin)*(xmax-xmin)` is `<= 0` the IoU is 0.

    What TFLite's V4 is given, and why its answer is V3's (padded V4 sliced to its count):

    * Scores: candidates pre-sorted with TOP_K (ties by index), passing ones get the distinct
      scores `N..1` (exact in float32 for N <= 2^24), the others -1 (threshold 0 drops them).
      TFLite then visits exactly TF's candidates in TF's order.
    * IoU threshold `t' = nextafter(t, +inf)` for `t < 1`: no float32 lies between `t` and
      `t'`, so TFLite's `IoU >= t'` is TF's `IoU > t`. For `t >= 1` TF suppresses nothing
      (computed IoU <= 1, rounding is monotone): every box is isolated (below) and `t' = 1`.
    * Boxes with area `<= 0`, inf or NaN ("isolated"): in TF their IoU with any box is 0 or NaN,
      so they never suppress and are never suppressed (`t >= 0`). Each becomes the unit-width box
      `[top, 2r, top + h, 2r + 1]` (`r` its visiting rank), with `top` >= every other box's
      `max(y1, y2)` and `top + h > top`: its y-overlap with other boxes is `<= 0` and its
      x-overlap with another isolated box is `<= -1`, so its IoU with all of them is exactly 0
      (not suppressed: `0 < t'`, `t' > 0`), while its area is positive and finite, so its IoU
      with itself is exactly 1 `>= t'`: when TFLite re-pops it after selecting it (point 3 of
      the module doc), it is dropped instead of selected twice. Scores and ranks are unchanged.
    * Other boxes are passed unchanged: TFLite computes their IoU with the same float32
      formula, so it suppresses exactly what TF suppresses; each kept one is dropped on re-pop
      (self-IoU 1).

    Domain of exactness: no NaN scores or coordinates; boxes of positive finite area have
    `|coordinates| < 2^62` (so `2 * area` and `top + h` stay finite); `N <= 2^23`. Both kernels
    evaluate IoU in IEEE float32 without fused multiply-add. The same rewritten call run by
    TensorFlow itself (eager, or any TF graph) compares `IoU > t'` and can differ from V3 only
    if some IoU equals `t'` exactly. Zero boxes give an empty result. Boxes
    `[N, (y1, x1, y2, x2)]`, any consistent units; scores `[N]`.
    """
    import tensorflow as tf

    with tf.name_scope(name or "non_max_suppression_valid"):
        return nms_valid(boxes, scores, max_output_size, iou_threshold, score_threshold)
