"""DetectionLayer ("mrcnn_detection"): classifier outputs -> final detections.

Per image (``refine_detections_graph``), for ``rois`` ``[N, 4]`` normalized, ``probs``
``[N, NUM_CLASSES]``, ``deltas`` ``[N, NUM_CLASSES, 4]``, ``window`` ``[4]`` normalized:

1. class = argmax(probs), score = its probability; gather that class's deltas;
2. refine the ROI with ``deltas * BBOX_STD_DEV``, clip to the window;
3. keep = non-background (``tf.where``), intersected (``tf.sets.intersection``) with
   score >= DETECTION_MIN_CONFIDENCE when that threshold is non-zero (as in the reference);
4. per-class NMS: ``tf.map_fn`` over ``tf.unique`` class ids, ``tf.image.non_max_suppression``
   (IoU DETECTION_NMS_THRESHOLD) inside, each result padded with -1 to DETECTION_MAX_INSTANCES;
5. keep = keep ∩ NMS survivors (``tf.sets.intersection``), then top-k by score;
6. output ``[DETECTION_MAX_INSTANCES, (y1, x1, y2, x2, class_id, score)]`` normalized, zero-padded.

TF API calls are looked up on ``tf`` at call time so rewrites can substitute them.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
from keras import layers as KL

from mrcnn.box_utils import decode_boxes_tf, clip_boxes_tf, normalize_boxes_tf
from mrcnn.graph_utils import batch_slice
from mrcnn.image import parse_image_meta


def _best_class(probs, deltas):
    """Per ROI: ``(class_id [N] int32 (argmax), score [N], that class's deltas [N, 4])``."""
    class_ids = tf.argmax(probs, axis=1, output_type=tf.int32)
    picks = tf.stack([tf.range(tf.shape(probs)[0]), class_ids], axis=1)
    return class_ids, tf.gather_nd(probs, picks), tf.gather_nd(deltas, picks)


def _common(a, b):
    """Values present in both int64 index lists ``a`` ``[n]`` and ``b`` ``[m]``, ascending
    (``tf.sets.intersection`` on the two as one-row sets)."""
    return tf.sparse.to_dense(tf.sets.intersection(a[tf.newaxis], b[tf.newaxis]))[0]


def _class_nms(candidates, class_ids, scores, boxes, limit: int, iou: float):
    """ROI indices (int64, any order) that survive NMS among the ``candidates`` of their class;
    at most ``limit`` per class (``tf.map_fn`` over the classes present, each result padded
    with -1 to ``limit`` so the loop has one element shape)."""
    cand_class = tf.gather(class_ids, candidates)
    cand_scores = tf.gather(scores, candidates)
    cand_boxes = tf.gather(boxes, candidates)

    def survivors(class_id):
        members = tf.where(tf.equal(cand_class, class_id))[:, 0]
        chosen = tf.image.non_max_suppression(
            tf.gather(cand_boxes, members), tf.gather(cand_scores, members),
            max_output_size=limit, iou_threshold=iou)
        rois = tf.gather(candidates, tf.gather(members, chosen))
        rois = tf.pad(rois, [(0, limit - tf.shape(rois)[0])], constant_values=-1)
        rois.set_shape([limit])
        return rois

    per_class = tf.map_fn(survivors, tf.unique(cand_class)[0], fn_output_signature=tf.int64)
    flat = tf.reshape(per_class, [-1])
    return tf.gather(flat, tf.where(flat > -1)[:, 0])


def refine_detections_graph(rois, probs, deltas, window, config):
    """One image (see the module docstring): ``rois`` ``[N, 4]``, ``probs`` ``[N, C]``,
    ``deltas`` ``[N, C, 4]``, ``window`` ``[4]``, all normalized. Returns
    ``[DETECTION_MAX_INSTANCES, (y1, x1, y2, x2, class_id, score)]`` float32, zero rows last."""
    limit = config.DETECTION_MAX_INSTANCES
    class_ids, scores, class_deltas = _best_class(probs, deltas)
    boxes = decode_boxes_tf(rois, class_deltas * config.BBOX_STD_DEV.astype(np.float32))
    boxes = clip_boxes_tf(boxes, window)
    keep = tf.where(class_ids > 0)[:, 0]
    if config.DETECTION_MIN_CONFIDENCE:
        keep = _common(keep, tf.where(scores >= config.DETECTION_MIN_CONFIDENCE)[:, 0])
    keep = _common(keep, _class_nms(keep, class_ids, scores, boxes, limit,
                                    config.DETECTION_NMS_THRESHOLD))
    kept_scores = tf.gather(scores, keep)
    best = tf.nn.top_k(kept_scores, k=tf.minimum(tf.shape(kept_scores)[0], limit), sorted=True)
    keep = tf.gather(keep, best.indices)
    rows = tf.concat([tf.gather(boxes, keep),
                      tf.cast(tf.gather(class_ids, keep), tf.float32)[:, tf.newaxis],
                      tf.gather(scores, keep)[:, tf.newaxis]], axis=1)
    return tf.pad(rows, [(0, limit - tf.shape(rows)[0]), (0, 0)])


class DetectionLayer(KL.Layer):
    """Inputs ``[rois [B, N, 4] normalized, mrcnn_class [B, N, C], mrcnn_bbox [B, N, C, 4],
    image_meta [B, META]]``; output ``[BATCH_SIZE, DETECTION_MAX_INSTANCES, (y1, x1, y2, x2,
    class_id, score)]`` normalized to the molded image, zero-padded.
    """

    def __init__(self, config=None, **kwargs):
        super().__init__(**kwargs)
        self.config = config

    def call(self, inputs):
        rois, mrcnn_class, mrcnn_bbox, image_meta = inputs
        meta = parse_image_meta(image_meta)
        image_shape = meta["image_shape"][0]
        window = normalize_boxes_tf(meta["window"], image_shape[:2])
        detections = batch_slice(
            [rois, mrcnn_class, mrcnn_bbox, window],
            lambda r, c, b, w: refine_detections_graph(r, c, b, w, self.config),
            self.config.BATCH_SIZE)
        return tf.reshape(detections, [self.config.BATCH_SIZE,
                                       self.config.DETECTION_MAX_INSTANCES, 6])

    def compute_output_shape(self, input_shape):
        return (self.config.BATCH_SIZE, self.config.DETECTION_MAX_INSTANCES, 6)
