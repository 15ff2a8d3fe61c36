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


def _pool_level(feature_map, boxes, levels, level: int, pool_shape):
    """Crops of the boxes assigned to ``level``: ``(crops [n, ph, pw, C] bilinear,
    where [n, (batch, box)] int64)`` for ``boxes`` ``[B, N, 4]`` and ``levels`` ``[B, N]``."""
    where = tf.where(tf.equal(levels, level))
    crops = tf.image.crop_and_resize(
        feature_map, tf.stop_gradient(tf.gather_nd(boxes, where)),
        tf.stop_gradient(tf.cast(where[:, 0], tf.int32)), pool_shape, method="bilinear")
    return crops, where


def _box_order(where):
    """Permutation that sorts level-major rows back to (batch, box) order; ``where`` ``[n, 2]``.
    The key ``batch * 100000 + box`` is unique, so ``top_k`` (descending) reversed sorts it."""
    where = tf.cast(where, tf.int32)
    key = where[:, 0] * 100000 + where[:, 1]
    return tf.reverse(tf.nn.top_k(key, k=tf.shape(key)[0]).indices, axis=[0])


class PyramidROIAlign(KL.Layer):
    """Inputs ``[boxes [B, N, (y1, x1, y2, x2)] normalized, image_meta [B, META], P2, P3, P4, P5]``
    (``P_k`` ``[B, h_k, w_k, C]``); output ``[B, N, pool_h, pool_w, C]`` in box order.
    """

    def __init__(self, pool_shape, **kwargs):
        super().__init__(**kwargs)
        self.pool_shape = tuple(int(v) for v in pool_shape)

    def call(self, inputs):
        boxes, image_meta, pyramid = inputs[0], inputs[1], inputs[2:]
        levels = roi_levels_graph(boxes, parse_image_meta(image_meta)["image_shape"][0])
        pooled = [_pool_level(fmap, boxes, levels, level, self.pool_shape)
                  for level, fmap in zip(range(2, 6), pyramid)]
        crops = tf.concat([c for c, _ in pooled], axis=0)
        crops = tf.gather(crops, _box_order(tf.concat([w for _, w in pooled], axis=0)))
        out_shape = self.compute_output_shape([tuple(t.shape) for t in inputs])
        dynamic = tf.shape(boxes)
        lead = [d if d is not None else dynamic[j] for j, d in enumerate(out_shape[:2])]
        return tf.reshape(crops, lead + list(out_shape[2:]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], input_shape[0][1], *self.pool_shape, input_shape[2][-1])

    def get_config(self):
        base = super().get_config()
        base.update(pool_shape=self.pool_shape)
        return base
