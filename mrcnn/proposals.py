"""ProposalLayer ("ROI"): RPN scores + deltas + anchors -> normalized proposals.

Per image: keep the ``PRE_NMS_LIMIT`` best anchors by foreground score (``tf.nn.top_k``), apply
the deltas (scaled by ``RPN_BBOX_STD_DEV``), clip to the unit window, run
``tf.image.non_max_suppression`` (IoU ``RPN_NMS_THRESHOLD``, at most ``proposal_count`` boxes) and
zero-pad to exactly ``proposal_count`` rows.

TF API calls are looked up on ``tf`` at call time on purpose (``tf.image.non_max_suppression``,
...), so a rewrite that substitutes them while the layer's ``call`` runs takes effect.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
from keras import layers as KL

from mrcnn.box_utils import decode_boxes_tf, clip_boxes_tf
from mrcnn.graph_utils import batch_slice


class ProposalLayer(KL.Layer):
    """Inputs ``[rpn_class [B, N, 2], rpn_bbox [B, N, 4] (dy, dx, log dh, log dw), anchors [B, N, 4]
    normalized (y1, x1, y2, x2)]``; output ``[BATCH_SIZE, proposal_count, (y1, x1, y2, x2)]``
    normalized, zero-padded.
    """

    def __init__(self, proposal_count, nms_threshold, config=None, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.proposal_count = int(proposal_count)
        self.nms_threshold = float(nms_threshold)

    def call(self, inputs):
        cfg = self.config
        scores = inputs[0][:, :, 1]  # foreground probability [B, N]
        std = np.reshape(cfg.RPN_BBOX_STD_DEV, [1, 1, 4]).astype(np.float32)
        deltas = inputs[1] * std
        anchors = inputs[2]
        pre_nms_limit = tf.minimum(cfg.PRE_NMS_LIMIT, tf.shape(anchors)[1])
        ix = tf.nn.top_k(scores, pre_nms_limit, sorted=True, name="top_anchors").indices
        bs = cfg.BATCH_SIZE
        scores = batch_slice([scores, ix], lambda x, y: tf.gather(x, y), bs)
        deltas = batch_slice([deltas, ix], lambda x, y: tf.gather(x, y), bs)
        pre_nms_anchors = batch_slice([anchors, ix], lambda a, x: tf.gather(a, x), bs,
                                      names=["pre_nms_anchors"])
        boxes = batch_slice([pre_nms_anchors, deltas], decode_boxes_tf, bs,
                            names=["refined_anchors"])
        window = np.array([0, 0, 1, 1], dtype=np.float32)
        boxes = batch_slice(boxes, lambda x: clip_boxes_tf(x, window), bs,
                            names=["refined_anchors_clipped"])

        def nms(boxes, scores):
            indices = tf.image.non_max_suppression(
                boxes, scores, self.proposal_count, self.nms_threshold,
                name="rpn_non_max_suppression")
            proposals = tf.gather(boxes, indices)
            padding = tf.maximum(self.proposal_count - tf.shape(proposals)[0], 0)
            proposals = tf.pad(proposals, [(0, padding), (0, 0)])
            # A reshape (not set_shape) so the static shape survives into the converted graph.
            return tf.reshape(proposals, [self.proposal_count, 4])

        return batch_slice([boxes, scores], nms, bs)

    def compute_output_shape(self, input_shape):
        return (self.config.BATCH_SIZE, self.proposal_count, 4)

    def get_config(self):
        base = super().get_config()
        base.update(proposal_count=self.proposal_count, nms_threshold=self.nms_threshold)
        return base
