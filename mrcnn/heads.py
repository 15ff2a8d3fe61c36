"""Second-stage heads on pooled ROI features (reference layer names, TimeDistributed over ROIs).

Classifier/regressor (``fpn_classifier_graph``), for ``rois`` ``[B, N, 4]`` normalized:
``roi_align_classifier`` -> ``[B, N, POOL, POOL, 256]`` -> ``mrcnn_class_conv1`` (POOLxPOOL conv,
valid, = FC) + ``mrcnn_class_bn1`` + ReLU -> ``mrcnn_class_conv2`` (1x1) + ``mrcnn_class_bn2`` + ReLU
-> ``pool_squeeze`` ``[B, N, FC]`` -> ``mrcnn_class_logits`` / ``mrcnn_class`` (softmax)
``[B, N, NUM_CLASSES]`` and ``mrcnn_bbox_fc`` -> ``mrcnn_bbox``
``[B, N, NUM_CLASSES, (dy, dx, log dh, log dw)]``.

Mask (``build_fpn_mask_graph``), for ``rois`` ``[B, M, 4]`` normalized: ``roi_align_mask`` ->
``[B, M, MASK_POOL, MASK_POOL, 256]`` -> 4 x (3x3 conv 256 ``mrcnn_mask_conv{k}`` +
``mrcnn_mask_bn{k}`` + ReLU) -> ``mrcnn_mask_deconv`` (2x2 stride 2 transpose conv, ReLU) ->
``mrcnn_mask`` (1x1 conv, sigmoid) ``[B, M, 2*MASK_POOL, 2*MASK_POOL, NUM_CLASSES]``.

BatchNorm layers get ``train_bn`` (False = frozen, the reference default; see
``mrcnn.backbone.BatchNorm``).
"""
from __future__ import annotations

from keras import layers as KL

from mrcnn.batch_norm import BatchNorm
from mrcnn.roi_align import PyramidROIAlign
from mrcnn.time_distributed import BatchedTimeDistributed


def _td(layer, name):
    return BatchedTimeDistributed(layer, name=name)


def fpn_classifier_graph(rois, feature_maps, image_meta, pool_size, num_classes,
                         train_bn=True, fc_layers_size=1024):
    """Returns ``(mrcnn_class_logits, mrcnn_probs, mrcnn_bbox)``; see module docstring for shapes.

    feature_maps: ``[P2, P3, P4, P5]``; image_meta: ``[B, IMAGE_META_SIZE]``.
    """
    x = PyramidROIAlign([pool_size, pool_size], name="roi_align_classifier")(
        [rois, image_meta] + list(feature_maps))
    x = _td(KL.Conv2D(fc_layers_size, (pool_size, pool_size), padding="valid"),
            "mrcnn_class_conv1")(x)
    x = _td(BatchNorm(train_bn=train_bn), "mrcnn_class_bn1")(x, training=train_bn)
    x = KL.Activation("relu")(x)
    x = _td(KL.Conv2D(fc_layers_size, (1, 1)), "mrcnn_class_conv2")(x)
    x = _td(BatchNorm(train_bn=train_bn), "mrcnn_class_bn2")(x, training=train_bn)
    x = KL.Activation("relu")(x)
    n_rois = x.shape[1]
    # [B, N, 1, 1, FC] -> [B, N, FC]
    shared = KL.Reshape((n_rois if n_rois is not None else -1, fc_layers_size),
                        name="pool_squeeze")(x)
    mrcnn_class_logits = _td(KL.Dense(num_classes), "mrcnn_class_logits")(shared)
    mrcnn_probs = _td(KL.Activation("softmax"), "mrcnn_class")(mrcnn_class_logits)
    x = _td(KL.Dense(num_classes * 4, activation="linear"), "mrcnn_bbox_fc")(shared)
    mrcnn_bbox = KL.Reshape((n_rois if n_rois is not None else -1, num_classes, 4),
                            name="mrcnn_bbox")(x)
    return mrcnn_class_logits, mrcnn_probs, mrcnn_bbox


def build_fpn_mask_graph(rois, feature_maps, image_meta, pool_size, num_classes, train_bn=True):
    """Returns ``mrcnn_mask`` ``[B, M, 2*pool_size, 2*pool_size, NUM_CLASSES]`` (sigmoid)."""
    x = PyramidROIAlign([pool_size, pool_size], name="roi_align_mask")(
        [rois, image_meta] + list(feature_maps))
    for k in range(1, 5):
        x = _td(KL.Conv2D(256, (3, 3), padding="same"), f"mrcnn_mask_conv{k}")(x)
        x = _td(BatchNorm(train_bn=train_bn), f"mrcnn_mask_bn{k}")(x, training=train_bn)
        x = KL.Activation("relu")(x)
    x = _td(KL.Conv2DTranspose(256, (2, 2), strides=2, activation="relu"), "mrcnn_mask_deconv")(x)
    return _td(KL.Conv2D(num_classes, (1, 1), strides=1, activation="sigmoid"), "mrcnn_mask")(x)
