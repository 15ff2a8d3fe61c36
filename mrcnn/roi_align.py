"""PyramidROIAlign: crop-and-resize each box from the pyramid level that matches its size.

Level assignment (FPN paper, eq. 1), with boxes normalized to the molded image of area
``H * W`` pixels: ``level = clip(4 + round(log2(sqrt(h * w) / (224 / sqrt(H * W)))), 2, 5)``,
i.e. a 224x224-pixel box goes to P4, 112 px to P3, 448 px to P5.

Per level the boxes are selected with ``tf.where`` + ``tf.gather_nd``, pooled with
``tf.image.crop_and_resize`` (bilinear) and finally reordered to the original (batch, box) order.
Used twice in the model: ``roi_align_classifier`` (POOL_SIZE) and ``roi_align_mask``
(MASK_POOL_SIZE). TF API calls are looked up on ``tf`` at call time so rewrites can substitute them.
"""
from __future__ import annotations

import tensorflow as tf
from keras import layers as KL

from mrcnn.graph_utils import log2_graph
from mrcnn.image import parse_image_meta


def roi_levels_graph(boxes, image_shape):
    """Pyramid level (int32 in 2..5) for ``boxes`` ``[..., 4]`` normalized to an image of
    ``image_shape`` ``[>=2]`` (h, w, ...) pixels; returns ``boxes.shape[:-1]``."""
    y1, x1, y2, x2 = tf.unstack(boxes, 4, axis=-1)
    h = y2 - y1
    w = x2 - x1
    image_area = tf.cast(image_shape[0] * image_shape[1], tf.float32)
    level = log2_graph(tf.sqrt(h * w) / (224.0 / tf.sqrt(image_area)))
    return tf.minimum(5, tf.maximum(2, 4 + tf.cast(tf.round(level), tf.int32)))


class PyramidROIAlign(KL.Layer):
    """Inputs ``[boxes [B, N, (y1, x1, y2, x2)] normalized, image_meta [B, META], P2, P3, P4, P5]``
    (``P_k`` ``[B, h_k, w_k, C]``); output ``[B, N, pool_h, pool_w, C]`` in box order.
    """

    def __init__(self, pool_shape, **kwargs):
        super().__init__(**kwargs)
        self.pool_shape = tuple(int(v) for v in pool_shape)

    def call(self, inputs):
        boxes = inputs[0]
        image_meta = inputs[1]
        feature_maps = inputs[2:]
        image_shape = parse_image_meta(image_meta)["image_shape"][0]
        roi_level = roi_levels_graph(boxes, image_shape)  # [B, N]

        pooled = []
        box_to_level = []
        for i, level in enumerate(range(2, 6)):
            ix = tf.where(tf.equal(roi_level, level))  # [n, (batch, box)] int64
            level_boxes = tf.gather_nd(boxes, ix)
            box_indices = tf.cast(ix[:, 0], tf.int32)
            box_to_level.append(ix)
            level_boxes = tf.stop_gradient(level_boxes)
            box_indices = tf.stop_gradient(box_indices)
            pooled.append(tf.image.crop_and_resize(
                feature_maps[i], level_boxes, box_indices, self.pool_shape, method="bilinear"))
        pooled = tf.concat(pooled, axis=0)  # [total, ph, pw, C], level order

        # Restore (batch, box) order: sort by batch * 100000 + box index.
        box_to_level = tf.cast(tf.concat(box_to_level, axis=0), tf.int32)
        n = tf.shape(box_to_level)[0]
        sort_key = box_to_level[:, 0] * 100000 + box_to_level[:, 1]
        order = tf.nn.top_k(sort_key, k=n).indices[::-1]
        pooled = tf.gather(pooled, order)

        out_shape = self.compute_output_shape([tuple(t.shape) for t in inputs])
        dyn = tf.shape(boxes)
        shape = [d if d is not None else dyn[j] for j, d in enumerate(out_shape[:2])]
        return tf.reshape(pooled, shape + list(out_shape[2:]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], input_shape[0][1], *self.pool_shape, input_shape[2][-1])

    def get_config(self):
        base = super().get_config()
        base.update(pool_shape=self.pool_shape)
        return base
