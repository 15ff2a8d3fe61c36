"""A tiny two-stage detector built the way Mask R-CNN-style Keras detectors are built.

Nobody wrote it for the rewrite rules: it calls the TensorFlow APIs that block TFLite
conversion directly from custom Keras layers, so `opaudit fix` has to find and rewrite them:

* ``proposals``  -- `tf.image.non_max_suppression` (NMS V3) whose *result length* is used:
  the selected boxes are gathered and zero-padded to ``N_PROPOSALS`` rows.
* ``roi_pool``   -- `tf.image.crop_and_resize` (ROI pooling on the feature map).
* ``head_*``     -- `TimeDistributed(Dense)` heads over the ``N_PROPOSALS`` regions.
* ``detect``     -- `tf.sets.intersection` and a per-class `tf.map_fn` over a dynamic number
  of classes, each doing NMS.

Inputs:  ``image`` float32 ``[B, 64, 64, 3]`` (B must be 1: batch handled as in the
reference implementation, one image per call).
Outputs: ``detections`` ``[B, N_DETECTIONS, (y1, x1, y2, x2, class_id, score)]`` with boxes
normalized to [0, 1], zero-padded rows at the end; ``class_probs`` ``[B, N_PROPOSALS,
N_CLASSES]``; ``proposals`` ``[B, N_PROPOSALS, (y1, x1, y2, x2)]`` normalized, zero-padded.
Weights are seeded (``keras.utils.set_random_seed(SEED)``), untrained.
"""

from __future__ import annotations

import numpy as np

SIZE = 64
N_PROPOSALS = 12
N_DETECTIONS = 8
N_CLASSES = 4
SEED = 7
PROPOSAL_SCORE_MIN = 0.52  # NMS score threshold: fewer than N_PROPOSALS survive -> padding matters
DETECTION_MIN_CONFIDENCE = 0.3


def _anchors(grid: int) -> np.ndarray:
    """Anchors ``[grid*grid, (y1, x1, y2, x2)]`` normalized, one square of side 4/grid per cell."""
    c = (np.arange(grid, dtype=np.float32) + 0.5) / grid
    cy, cx = np.meshgrid(c, c, indexing="ij")
    h = 4.0 / grid
    a = np.stack([cy - h / 2, cx - h / 2, cy + h / 2, cx + h / 2], -1).reshape(-1, 4)
    return np.clip(a, 0.0, 1.0).astype(np.float32)


def build():
    """Build the detector (Keras 3 functional model, seeded untrained weights)."""
    return _build(skip_padding=True)


def build_padding_trap():
    """The same detector, but the zero-padded proposals reach the per-class NMS as zero-area boxes.

    TensorFlow's NMS keeps every zero-area box (IoU 0); TFLite's NON_MAX_SUPPRESSION_V4 alone
    returns repeated indices for them (measured: boxes ``[b, b, 0, b]`` -> TF ``[0, 1, 2, 3]``,
    TFLite ``[0, 1, 2, 2]``). The `nms` rule isolates such boxes, so `opaudit fix` must end
    fixed with matching detections (a regression test of that rule, end to end).
    """
    return _build(skip_padding=False)


def _build(skip_padding: bool):
    import keras
    import tensorflow as tf

    class Proposals(keras.layers.Layer):
        """Scores ``[B, A, 1]``, deltas ``[B, A, 4]`` -> proposals ``[B, N_PROPOSALS, 4]``."""

        def __init__(self, anchors, **kw):
            super().__init__(**kw)
            self.anchors = np.asarray(anchors, np.float32)

        def call(self, scores, deltas):
            a = tf.constant(self.anchors)
            boxes = tf.clip_by_value(a + 0.1 * deltas[0], 0.0, 1.0)
            s = scores[0, :, 0]
            keep = tf.image.non_max_suppression(
                boxes, s, N_PROPOSALS, iou_threshold=0.5, score_threshold=PROPOSAL_SCORE_MIN)
            picked = tf.gather(boxes, keep)
            picked = tf.pad(picked, [[0, N_PROPOSALS - tf.shape(picked)[0]], [0, 0]])
            return tf.reshape(picked, [1, N_PROPOSALS, 4])

    class RoiPool(keras.layers.Layer):
        """Feature ``[B, h, w, C]``, boxes ``[B, N, 4]`` -> crops ``[B, N, 4, 4, C]``."""

        def call(self, feature, boxes):
            b = boxes[0]
            crops = tf.image.crop_and_resize(feature, b, tf.zeros([tf.shape(b)[0]], tf.int32), [4, 4])
            return tf.expand_dims(crops, 0)

    class Detect(keras.layers.Layer):
        """Proposals ``[B, N, 4]``, class probs ``[B, N, K]`` -> detections ``[B, D, 6]``."""

        def call(self, boxes, probs):
            boxes, probs = boxes[0], probs[0]
            class_ids = tf.argmax(probs, axis=1, output_type=tf.int32)
            scores = tf.reduce_max(probs, axis=1)
            real = tf.reduce_any(tf.not_equal(boxes, 0.0), axis=1) if skip_padding else True
            keep = tf.where(tf.logical_and(class_ids > 0, real))[:, 0]
            conf = tf.where(scores >= DETECTION_MIN_CONFIDENCE)[:, 0]
            keep = tf.sparse.to_dense(tf.sets.intersection(keep[None], conf[None]))[0]
            pre_ids = tf.gather(class_ids, keep)
            pre_scores = tf.gather(scores, keep)
            pre_boxes = tf.gather(boxes, keep)

            def per_class(c):
                ixs = tf.where(tf.equal(pre_ids, c))[:, 0]
                sel = tf.image.non_max_suppression(
                    tf.gather(pre_boxes, ixs), tf.gather(pre_scores, ixs), N_DETECTIONS, 0.3)
                picked = tf.gather(keep, tf.gather(ixs, sel))
                picked = tf.pad(picked, [[0, N_DETECTIONS - tf.shape(picked)[0]]], constant_values=-1)
                picked.set_shape([N_DETECTIONS])
                return picked

            nms = tf.map_fn(per_class, tf.unique(pre_ids)[0], fn_output_signature=tf.int64)
            nms = tf.reshape(nms, [-1])
            nms = tf.gather(nms, tf.where(nms > -1)[:, 0])
            keep = tf.sparse.to_dense(tf.sets.intersection(keep[None], nms[None]))[0]
            k = tf.minimum(tf.shape(keep)[0], N_DETECTIONS)
            top = tf.nn.top_k(tf.gather(scores, keep), k=k, sorted=True).indices
            keep = tf.gather(keep, top)
            det = tf.concat([tf.gather(boxes, keep),
                             tf.cast(tf.gather(class_ids, keep), tf.float32)[:, None],
                             tf.gather(scores, keep)[:, None]], axis=1)
            det = tf.pad(det, [[0, N_DETECTIONS - tf.shape(det)[0]], [0, 0]])
            return tf.reshape(det, [1, N_DETECTIONS, 6])

    keras.utils.set_random_seed(SEED)
    L = keras.layers
    image = keras.Input((SIZE, SIZE, 3), name="image")
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="conv1")(image)
    feat = L.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="conv2")(x)
    grid = SIZE // 4
    scores = L.Reshape((grid * grid, 1), name="rpn_scores")(
        L.Conv2D(1, 1, activation="sigmoid", name="rpn_cls")(feat))
    deltas = L.Reshape((grid * grid, 4), name="rpn_deltas")(L.Conv2D(4, 1, name="rpn_reg")(feat))
    props = Proposals(_anchors(grid), name="proposals")(scores, deltas)
    crops = RoiPool(name="roi_pool")(feat, props)
    h = L.TimeDistributed(L.Flatten(), name="head_flatten")(crops)
    h = L.TimeDistributed(L.Dense(32, activation="relu"), name="head_fc")(h)
    probs = L.TimeDistributed(L.Dense(N_CLASSES, activation="softmax",
                                       kernel_initializer=keras.initializers.RandomNormal(stddev=3.0)),
                              name="head_class")(h)
    det = Detect(name="detect")(props, probs)
    return keras.Model(image, {"detections": det, "class_probs": probs, "proposals": props},
                       name="tiny_detector")


def samples(n: int = 3) -> list[list[np.ndarray]]:
    """``n`` seeded input lists: ``[image float32 [1, 64, 64, 3] in [0, 1]]``."""
    rng = np.random.default_rng(SEED)
    return [[rng.random((1, SIZE, SIZE, 3), dtype=np.float32)] for _ in range(n)]
