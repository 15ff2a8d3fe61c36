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


def refine_detections_graph(rois, probs, deltas, window, config):
    """One image; see module docstring. Returns ``[DETECTION_MAX_INSTANCES, 6]`` float32."""
    max_inst = config.DETECTION_MAX_INSTANCES
    class_ids = tf.argmax(probs, axis=1, output_type=tf.int32)
    indices = tf.stack([tf.range(tf.shape(probs)[0]), class_ids], axis=1)
    class_scores = tf.gather_nd(probs, indices)
    deltas_specific = tf.gather_nd(deltas, indices)
    refined_rois = decode_boxes_tf(
        rois, deltas_specific * config.BBOX_STD_DEV.astype(np.float32))
    refined_rois = clip_boxes_tf(refined_rois, window)

    keep = tf.where(class_ids > 0)[:, 0]
    if config.DETECTION_MIN_CONFIDENCE:
        conf_keep = tf.where(class_scores >= config.DETECTION_MIN_CONFIDENCE)[:, 0]
        keep = tf.sets.intersection(tf.expand_dims(keep, 0), tf.expand_dims(conf_keep, 0))
        keep = tf.sparse.to_dense(keep)[0]

    pre_nms_class_ids = tf.gather(class_ids, keep)
    pre_nms_scores = tf.gather(class_scores, keep)
    pre_nms_rois = tf.gather(refined_rois, keep)
    unique_pre_nms_class_ids = tf.unique(pre_nms_class_ids)[0]

    def nms_keep_map(class_id):
        """Indices (into the ROIs) that survive NMS within ``class_id``, -1 padded."""
        ixs = tf.where(tf.equal(pre_nms_class_ids, class_id))[:, 0]
        class_keep = tf.image.non_max_suppression(
            tf.gather(pre_nms_rois, ixs), tf.gather(pre_nms_scores, ixs),
            max_output_size=max_inst, iou_threshold=config.DETECTION_NMS_THRESHOLD)
        class_keep = tf.gather(keep, tf.gather(ixs, class_keep))
        gap = max_inst - tf.shape(class_keep)[0]
        class_keep = tf.pad(class_keep, [(0, gap)], mode="CONSTANT", constant_values=-1)
        class_keep.set_shape([max_inst])
        return class_keep

    nms_keep = tf.map_fn(nms_keep_map, unique_pre_nms_class_ids, fn_output_signature=tf.int64)
    nms_keep = tf.reshape(nms_keep, [-1])
    nms_keep = tf.gather(nms_keep, tf.where(nms_keep > -1)[:, 0])
    keep = tf.sets.intersection(tf.expand_dims(keep, 0), tf.expand_dims(nms_keep, 0))
    keep = tf.sparse.to_dense(keep)[0]

    class_scores_keep = tf.gather(class_scores, keep)
    num_keep = tf.minimum(tf.shape(class_scores_keep)[0], max_inst)
    top_ids = tf.nn.top_k(class_scores_keep, k=num_keep, sorted=True)[1]
    keep = tf.gather(keep, top_ids)

    detections = tf.concat([
        tf.gather(refined_rois, keep),
        tf.cast(tf.gather(class_ids, keep), tf.float32)[..., tf.newaxis],
        tf.gather(class_scores, keep)[..., tf.newaxis]], axis=1)
    gap = max_inst - tf.shape(detections)[0]
    return tf.pad(detections, [(0, gap), (0, 0)], "CONSTANT")


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
