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
"""
from __future__ import annotations

import keras
import numpy as np
from keras import layers as KL

from mrcnn import image as image_utils
from mrcnn.anchors import generate_pyramid_anchors
from mrcnn.backbone import resnet_graph
from mrcnn.box_utils import normalize_boxes
from mrcnn.config import Config, compute_backbone_shapes
from mrcnn.detection import DetectionLayer
from mrcnn.fpn import fpn_graph
from mrcnn.heads import build_fpn_mask_graph, fpn_classifier_graph
from mrcnn.proposals import ProposalLayer
from mrcnn.rpn import build_rpn_model, build_rpn_outputs
from mrcnn import weights as weights_io

OUTPUT_NAMES = ["mrcnn_detection", "mrcnn_class", "mrcnn_bbox", "mrcnn_mask", "ROI",
                "rpn_class", "rpn_bbox"]


def build_inference_model(config: Config) -> keras.Model:
    """Assemble the Keras 3 inference graph ``mask_rcnn`` for ``config`` (see module docstring)."""
    h, w = config.IMAGE_SHAPE[:2]
    if h % 64 or w % 64:
        raise ValueError(f"IMAGE_SHAPE {tuple(config.IMAGE_SHAPE)}: height and width must be "
                         "multiples of 64 (six 2x downsamplings in the pyramid)")
    train_bn = config.TRAIN_BN
    input_image = KL.Input(shape=[int(v) for v in config.IMAGE_SHAPE], name="input_image")
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


class MaskRCNN:
    """Mask R-CNN around a Keras 3 model (``.keras_model``).

    mode: only "inference" is implemented ("training" raises NotImplementedError).
    seed: weights are drawn deterministically from it (``weights.seed_weights``); None keeps the
    Keras initializers (not reproducible). Untrained weights give meaningless detections: load
    trained ones with ``load_weights("mask_rcnn_coco.h5", exclude=weights.HEAD_LAYERS)``
    (or without ``exclude`` when NUM_CLASSES == 81).
    """

    def __init__(self, config: Config, mode: str = "inference", seed: int | None = 0,
                 model_dir: str | None = None):
        if mode == "training":
            raise NotImplementedError("MaskRCNN mode='training' is not implemented; the shared "
                                      "building blocks take train_bn, only the graph is missing")
        if mode != "inference":
            raise ValueError(f"mode must be 'inference' (or 'training'), got {mode!r}")
        self.config = config
        self.mode = mode
        self.model_dir = model_dir
        self._anchor_cache: dict = {}
        self.anchors = None
        self.keras_model = build_inference_model(config)
        if seed is not None:
            weights_io.seed_weights(self.keras_model, seed)

    # ----------------------------------------------------------------------------------- weights
    def load_weights(self, filepath: str, by_name: bool = True, exclude=None) -> dict:
        """Load reference-layout HDF5 weights by layer name; see ``mrcnn.weights.load_weights``."""
        if not by_name:
            raise ValueError("only by_name=True loading is supported")
        return weights_io.load_weights(self.keras_model, filepath, exclude=exclude)

    def save_weights(self, filepath: str) -> None:
        """Write the weights in the reference HDF5 layout (``mrcnn.weights.save_weights``)."""
        weights_io.save_weights(self.keras_model, filepath)

    # ------------------------------------------------------------------------------------ inputs
    def mold_images(self, images):
        """images: list of ``[h, w, 3]`` arrays. Returns ``(molded_images [B, *IMAGE_SHAPE] float32,
        image_metas [B, IMAGE_META_SIZE] float32, windows [B, (y1, x1, y2, x2)] molded pixels)``
        (what the reference design's ``mold_inputs`` returned)."""
        cfg = self.config
        molded, metas, windows = [], [], []
        for img in images:
            m, window, scale, _, _ = image_utils.resize_image(
                img, min_dim=cfg.IMAGE_MIN_DIM, min_scale=cfg.IMAGE_MIN_SCALE,
                max_dim=cfg.IMAGE_MAX_DIM, mode=cfg.IMAGE_RESIZE_MODE)
            m = image_utils.mold_image(m, cfg)
            metas.append(image_utils.compose_image_meta(
                0, img.shape, m.shape, window, scale, np.zeros([cfg.NUM_CLASSES], dtype=np.int32)))
            molded.append(m)
            windows.append(window)
        return (np.stack(molded).astype(np.float32), np.stack(metas).astype(np.float32),
                np.array(windows, dtype=np.int32))

    def get_anchors(self, image_shape) -> np.ndarray:
        """Normalized pyramid anchors ``[N, (y1, x1, y2, x2)]`` for a molded ``image_shape``
        (cached); pixel anchors of the last call are kept in ``self.anchors``."""
        key = tuple(int(v) for v in image_shape)
        if key not in self._anchor_cache:
            cfg = self.config
            pixels = generate_pyramid_anchors(
                cfg.RPN_ANCHOR_SCALES, cfg.RPN_ANCHOR_RATIOS,
                compute_backbone_shapes(cfg, image_shape), cfg.BACKBONE_STRIDES,
                cfg.RPN_ANCHOR_STRIDE)
            self.anchors = pixels
            self._anchor_cache[key] = normalize_boxes(pixels, image_shape[:2])
        return self._anchor_cache[key]

    def mold_inputs(self, images):
        """The model's three inputs for ``images`` (list of ``[h, w, 3]`` RGB arrays), ready for
        ``keras_model``: ``[input_image [B, *IMAGE_SHAPE] float32 (molded, mean-subtracted),
        input_image_meta [B, IMAGE_META_SIZE] float32, input_anchors [B, N, (y1, x1, y2, x2)]
        float32 normalized]``."""
        return self._inputs(images)[0]

    def _inputs(self, images):
        molded, metas, windows = self.mold_images(images)
        anchors = self.get_anchors(molded[0].shape)
        anchors = np.broadcast_to(anchors, (len(images),) + anchors.shape).astype(np.float32)
        return [molded, metas, anchors], windows

    # ------------------------------------------------------------------------------------ detect
    def detect(self, images, verbose: int = 0) -> list[dict]:
        """Run detection on ``config.BATCH_SIZE`` images (each ``[h, w, 3]``, RGB, any size).

        Returns one dict per image: ``rois`` ``[N, (y1, x1, y2, x2)]`` int32 original-image pixels,
        ``class_ids`` ``[N]`` int32, ``scores`` ``[N]`` float32, ``masks`` ``[h, w, N]`` bool.
        """
        if len(images) != self.config.BATCH_SIZE:
            raise ValueError(f"detect() needs exactly BATCH_SIZE={self.config.BATCH_SIZE} images, "
                             f"got {len(images)}")
        inputs, windows = self._inputs(images)
        # predict_on_batch (as the reference's predict): the first call traces a tf.function
        # (measured 7.6 s small, 86 s COCO on 2 cores), later calls are 2.6x (small) to 3.6x
        # (COCO) faster than eager calls; see bench/mrcnn_keras.py.
        outputs = self.keras_model.predict_on_batch(inputs)
        detections, mrcnn_mask = np.asarray(outputs[0]), np.asarray(outputs[3])
        results = []
        for i, img in enumerate(images):
            rois, class_ids, scores, masks = image_utils.unmold_detections(
                detections[i], mrcnn_mask[i], img.shape, inputs[0][i].shape, windows[i])
            if verbose:
                print(f"image {i}: {len(rois)} detections")
            results.append({"rois": rois, "class_ids": class_ids, "scores": scores, "masks": masks})
        return results
