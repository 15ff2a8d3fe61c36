"""``MaskRCNN``: the inference model (``mrcnn.model``) with its inputs, weights and detect().

Reference-compatible surface: ``MaskRCNN(config)``, ``load_weights(path, by_name=True,
exclude=[...])``, ``mold_inputs(images)``, ``get_anchors(image_shape)``, ``detect(images)``.
"""
from __future__ import annotations

import numpy as np

from mrcnn import image as image_utils
from mrcnn import weights as weights_io
from mrcnn.anchors import generate_pyramid_anchors
from mrcnn.box_utils import normalize_boxes
from mrcnn.config import Config, compute_backbone_shapes
from mrcnn.model import build_inference_model
from mrcnn.resize import resize_image


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
        self.weights_report = None
        self.keras_model = build_inference_model(config)
        if seed is not None:
            weights_io.seed_weights(self.keras_model, seed)

    # ----------------------------------------------------------------------------------- weights
    def load_weights(self, filepath: str, by_name: bool = True, exclude=None) -> dict:
        """Load Keras 2 HDF5 weights (``mask_rcnn_coco.h5`` layout) by layer name, all or
        nothing; ``exclude``: layer names to keep (e.g. ``weights.HEAD_LAYERS``). Returns the
        provenance report (which layers came from the file, see ``mrcnn.weights.load_weights``),
        also kept as ``self.weights_report``."""
        if not by_name:
            raise ValueError("only by_name=True loading is supported")
        self.weights_report = weights_io.load_weights(self.keras_model, filepath, exclude=exclude)
        return self.weights_report

    def save_weights(self, filepath: str) -> None:
        """Write the weights in the reference HDF5 layout (``mrcnn.weights.save_weights``)."""
        weights_io.save_weights(self.keras_model, filepath)

    # ------------------------------------------------------------------------------------ inputs
    def _mold_one(self, image):
        cfg = self.config
        framed, window, scale, _, _ = resize_image(image, cfg.IMAGE_MIN_DIM, cfg.IMAGE_MAX_DIM,
                                                   cfg.IMAGE_MIN_SCALE, cfg.IMAGE_RESIZE_MODE)
        values = image_utils.mold_image(framed, cfg)
        meta = image_utils.compose_image_meta(0, image.shape, values.shape, window, scale,
                                              np.zeros(cfg.NUM_CLASSES))
        return values, meta, window

    def mold_images(self, images):
        """images: list of ``[h, w, 3]`` RGB arrays. Returns ``(molded [B, H, W, 3] float32
        (fitted by IMAGE_RESIZE_MODE, mean-subtracted), image_metas [B, IMAGE_META_SIZE]
        float32, windows [B, (y1, x1, y2, x2)] int32 molded-frame pixels)``."""
        molded, metas, windows = zip(*(self._mold_one(image) for image in images))
        return (np.stack(molded).astype(np.float32), np.stack(metas),
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
