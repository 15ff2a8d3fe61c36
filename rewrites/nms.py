"""`NonMaxSuppressionV3` -> padded `NonMaxSuppressionV4` + slice to the valid count.

The converter lowers `tf.image.non_max_suppression` (V3) to the builtin NON_MAX_SUPPRESSION_V4
but keeps only its padded index output (always `max_output_size` long, zeros after the valid
ones) and drops the valid count. Code that gathers with the result then picks box 0 again and
again, and with a score threshold the result is no longer what TF returns. Calling V4 ourselves
with `pad_to_max_output_size=True` keeps the count, and slicing `[:valid]` restores V3's output;
pre-sorting by (score desc, index asc) makes ties come out in TF's order too.
"""

from __future__ import annotations

from rewrites.registry import rule


def nms_valid(boxes, scores, max_output_size, iou_threshold, score_threshold):
    """Greedy NMS with V3's result, from ops that lower to builtins.

    Args:
        boxes: `[num_boxes, 4]` float, `(y1, x1, y2, x2)` in any consistent units (pixel or
            normalized; corners may be given in either order, as TF allows).
        scores: `[num_boxes]` float.
        max_output_size: scalar int, upper bound on the number of boxes kept.
        iou_threshold, score_threshold: scalar floats.

    Returns:
        `[M]` int32 indices into `boxes`, in decreasing score order, `M <= max_output_size`.
    """
    import tensorflow as tf
    from tensorflow.python.ops import gen_image_ops

    scores = tf.convert_to_tensor(scores)
    count = tf.shape(scores)[0]
    # TF visits candidates by score, ties by lower index; TFLite's kernel sorts unstably. Visit
    # them in TF's order (TOPK_V2 breaks ties by lower index) with distinct surrogate scores
    # count, count-1, ..., 1; candidates at or below the threshold get -1 and are never kept.
    order = tf.math.top_k(scores, k=count, sorted=True).indices  # [N]
    passing = tf.gather(scores, order) > tf.cast(score_threshold, scores.dtype)
    rank_score = tf.cast(count - tf.range(count), tf.float32)
    surrogate = tf.where(passing, rank_score, -1.0)
    selected, valid = gen_image_ops.non_max_suppression_v4(
        tf.cast(tf.gather(boxes, order), tf.float32), surrogate, max_output_size, iou_threshold, 0.0,
        pad_to_max_output_size=True,
    )
    return tf.gather(order, tf.slice(selected, [0], tf.reshape(valid, [1])))


@rule(
    tf_ops=("NonMaxSuppressionV3",),
    codes=("NMS_PADDED_OUTPUT", "PARITY_FAILED"),
    emits=("NON_MAX_SUPPRESSION_V4", "TOPK_V2", "GATHER", "SLICE", "RESHAPE", "SHAPE",
           "STRIDED_SLICE", "GREATER", "SELECT_V2", "RANGE", "SUB", "CAST"),
    patches=("tensorflow.python.ops.gen_image_ops.non_max_suppression_v3",),
)
def nms(original, boxes, scores, max_output_size, iou_threshold, score_threshold, name=None):
    """NMS V3 computed as padded V4 sliced to its valid count: V3's exact indices and order.

    V3 and V4 run the same greedy algorithm in TensorFlow (V4 only adds padding and the count),
    so `V4(pad=True)[:valid]` equals V3: with or without a score threshold (kept: score > it),
    any IoU threshold, fewer candidates than `max_output_size`, and zero boxes (empty result).
    In TFLite the builtin NON_MAX_SUPPRESSION_V4 returns the count too, so the length (and any
    downstream gather) is right instead of padded with index 0. Equal scores: TF visits them by
    lower index first but TFLite's kernel sorts unstably, so candidates are pre-sorted with
    TOP_K (which breaks ties by index) and given distinct rank scores; the threshold is applied
    to the real scores first. Boxes `[N, (y1, x1, y2, x2)]`, any consistent units.
    """
    import tensorflow as tf

    with tf.name_scope(name or "non_max_suppression_valid"):
        return nms_valid(boxes, scores, max_output_size, iou_threshold, score_threshold)
