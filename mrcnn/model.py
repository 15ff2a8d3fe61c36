"""Mask R-CNN inference graph assembly and the ``MaskRCNN`` wrapper.

Graph (inference mode, reference design):

* inputs: ``input_image`` ``[B, *IMAGE_SHAPE]`` (molded, static spatial shape),
  ``input_image_meta`` ``[B, IMAGE_META_SIZE]``, ``input_anchors`` ``[B, N, 4]`` normalized
  (from ``get_anchors``);
* ResNet -> FPN (P2..P6) -> shared ``rpn_model`` -> ``ROI`` proposals
  ``[BATCH_SIZE, POST_NMS_ROIS_INFERENCE, 4]`` -> classifier heads -> ``mrcnn_detection``
  -> mask head on the detected boxes;
* outputs, in order: ``mrcnn_detection`` ``[B, DETECTION_MAX_INSTANCES, (y1, x1, y2, x2, class_id,
  score)]``, ``mrcnn_class`` ``[B, R, NUM_CLASSES]``, ``mrcnn_bbox`` ``[B, R, NUM_CLASSES, 4]``,
  ``mrcnn_mask`` ``[B, D, 28, 28, NUM_CLASSES]``, ``ROI`` ``[B, R, 4]``, ``rpn_class`` ``[B, N, 2]``,
  ``rpn_bbox`` ``[B, N, 4]``. All boxes normalized to the molded image.

Batch handling follows the reference: custom layers loop over ``config.BATCH_SIZE`` in Python.
``input_image`` has a static size (``IMAGE_SHAPE``) in the fixed-size modes ("square", "crop")
and ``[None, None, C]`` in "pad64" and "none", where the molded size follows the image.
The ``MaskRCNN`` wrapper (inputs, weights, detect) lives in ``mrcnn.maskrcnn``.
"""
from __future__ import annotations

import keras
from keras import layers as KL

from mrcnn.backbone import resnet_graph
from mrcnn.config import Config
from mrcnn.detection import DetectionLayer
from mrcnn.fpn import fpn_graph
from mrcnn.heads import build_fpn_mask_graph, fpn_classifier_graph
from mrcnn.proposals import ProposalLayer
from mrcnn.rpn import build_rpn_model, build_rpn_outputs

OUTPUT_NAMES = ["mrcnn_detection", "mrcnn_class", "mrcnn_bbox", "mrcnn_mask", "ROI",
                "rpn_class", "rpn_bbox"]


def build_inference_model(config: Config) -> keras.Model:
    """Assemble the Keras 3 inference graph ``mask_rcnn`` for ``config`` (see module docstring)."""
    h, w = config.IMAGE_SHAPE[:2]
    if h % 64 or w % 64:
        raise ValueError(f"IMAGE_SHAPE {tuple(config.IMAGE_SHAPE)}: height and width must be "
                         "multiples of 64 (six 2x downsamplings in the pyramid)")
    train_bn = config.TRAIN_BN
    spatial = [int(v) for v in config.IMAGE_SHAPE[:2]]
    if config.IMAGE_RESIZE_MODE in ("pad64", "none"):
        spatial = [None, None]
    input_image = KL.Input(shape=spatial + [int(config.IMAGE_SHAPE[2])], name="input_image")
    input_image_meta = KL.Input(shape=[config.IMAGE_META_SIZE], name="input_image_meta")
    input_anchors = KL.Input(shape=[None, 4], name="input_anchors")

    _, c2, c3, c4, c5 = resnet_graph(input_image, config.BACKBONE, stage5=True, train_bn=train_bn)
    p2, p3, p4, p5, p6 = fpn_graph([c2, c3, c4, c5], config.TOP_DOWN_PYRAMID_SIZE)
    rpn_feature_maps = [p2, p3, p4, p5, p6]
    mrcnn_feature_maps = [p2, p3, p4, p5]

    rpn = build_rpn_model(config.RPN_ANCHOR_STRIDE, len(config.RPN_ANCHOR_RATIOS),
                          config.TOP_DOWN_PYRAMID_SIZE)
    _, rpn_class, rpn_bbox = build_rpn_outputs(rpn, rpn_feature_maps)

    rpn_rois = ProposalLayer(proposal_count=config.POST_NMS_ROIS_INFERENCE,
                             nms_threshold=config.RPN_NMS_THRESHOLD, config=config,
                             name="ROI")([rpn_class, rpn_bbox, input_anchors])
    _, mrcnn_class, mrcnn_bbox = fpn_classifier_graph(
        rpn_rois, mrcnn_feature_maps, input_image_meta, config.POOL_SIZE, config.NUM_CLASSES,
        train_bn=train_bn, fc_layers_size=config.FPN_CLASSIF_FC_LAYERS_SIZE)
    detections = DetectionLayer(config, name="mrcnn_detection")(
        [rpn_rois, mrcnn_class, mrcnn_bbox, input_image_meta])
    detection_boxes = KL.Lambda(lambda x: x[..., :4], name="detection_boxes")(detections)
    mrcnn_mask = build_fpn_mask_graph(detection_boxes, mrcnn_feature_maps, input_image_meta,
                                      config.MASK_POOL_SIZE, config.NUM_CLASSES, train_bn=train_bn)
    return keras.Model([input_image, input_image_meta, input_anchors],
                       [detections, mrcnn_class, mrcnn_bbox, mrcnn_mask, rpn_rois, rpn_class,
                        rpn_bbox], name="mask_rcnn")
