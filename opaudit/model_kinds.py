"""Registry of model kinds: what `fix` and `compare` need to know that depends on the model.

The generic loop knows nothing about Mask R-CNN; whatever is model-specific lives in a kind,
registered here under the ``ModelSpec.kind`` it serves:

    @register_kind("mrcnn")
    class MaskRCNNKind(ModelKind): ...

Contract of a registered kind (called in a worker process, TensorFlow imported):

* ``load(spec) -> LoadedModel``: build or load the model (weights from ``spec.weights`` applied).
* ``samples(loaded, n) -> (list of n input lists, note) | None``: inputs that exercise the
  model (one ``np.ndarray`` per model input, in input order); None means "no better idea than
  seeded random inputs from the signature".
* ``parity_twin(spec) -> dict | None``: config overrides for a twin to convert and compare
  when the model's own outputs are degenerate on the samples (an untrained detector detects
  nothing at its threshold, so its detections and masks would go unchecked); None: no twin.

Kinds are looked up with `get_kind(name)`; an unknown name is a UsageError.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from opaudit.errors import UsageError
from opaudit.modelspec import ModelSpec, import_file


@dataclass
class LoadedModel:
    """A built model: ``keras`` (a Keras model) or, without Keras layers, ``saved_model``.
    ``context`` is the kind's own object (mrcnn: ``{"net": MaskRCNN, "config": Config}``)."""

    keras: Any = None
    saved_model: Any = None
    context: Any = None
    weights_report: dict[str, Any] | None = None  # which layers came from ``spec.weights``


class ModelKind:
    """Base of registered kinds: no special samples, no twin."""

    name = "?"

    def load(self, spec: ModelSpec) -> LoadedModel:
        raise NotImplementedError

    def samples(self, loaded: LoadedModel, n: int) -> tuple[list[list[np.ndarray]], str] | None:
        return None

    def parity_twin(self, spec: ModelSpec) -> dict[str, Any] | None:
        return None


_KINDS: dict[str, ModelKind] = {}


def register_kind(name: str) -> Callable[[type[ModelKind]], type[ModelKind]]:
    """Class decorator: register an instance of the class as kind ``name`` (unique)."""
    def wrap(cls: type[ModelKind]) -> type[ModelKind]:
        if name in _KINDS:
            raise ValueError(f"model kind {name!r} registered twice")
        for method in ("load", "samples", "parity_twin"):
            if not callable(getattr(cls, method, None)):
                raise TypeError(f"model kind {name!r} lacks {method}()")
        inst = cls()
        inst.name = name
        _KINDS[name] = inst
        return cls
    return wrap


def get_kind(name: str) -> ModelKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise UsageError(f"unknown model kind {name!r} (known: {', '.join(sorted(_KINDS))})") from None


def load(spec: ModelSpec) -> LoadedModel:
    """Build/load the model of ``spec`` with its kind."""
    return get_kind(spec.kind).load(spec)


# ---------------------------------------------------------------------------- the kinds

@register_kind("mrcnn")
class MaskRCNNKind(ModelKind):
    """Our Mask R-CNN (`mrcnn/`): seeded weights or a reference-layout .h5 (Keras 2
    ``save_weights`` layout, loaded by layer name, ``spec.weights_exclude`` skipped); samples are
    synthetic images molded by `MaskRCNN.mold_inputs` (so image meta and anchors are valid)."""

    TWIN_OVERRIDES = {"DETECTION_MIN_CONFIDENCE": 0.0}

    def load(self, spec: ModelSpec) -> LoadedModel:
        import mrcnn
        from mrcnn.weights import WeightsMismatchError

        cfg = mrcnn.get_config(spec.config or "small", **(spec.overrides or {}))
        net = mrcnn.MaskRCNN(cfg)
        report = None
        if spec.weights:
            try:
                report = net.load_weights(spec.weights, exclude=spec.weights_exclude or None)
            except WeightsMismatchError as exc:
                raise UsageError(f"{exc} (CLI: --weights-exclude LAYER)") from None
        return LoadedModel(keras=net.keras_model, context={"net": net, "config": cfg}, weights_report=report)

    def samples(self, loaded: LoadedModel, n: int):
        from opaudit.samples import SEED, synthetic_images

        net, cfg = loaded.context["net"], loaded.context["config"]
        h, w = (int(cfg.IMAGE_SHAPE[0]), int(cfg.IMAGE_SHAPE[1]))
        data = [[np.asarray(a, np.float32) for a in net.mold_inputs([img])]
                for img in synthetic_images(n, h, w)]
        return data, f"{n} synthetic images (seed {SEED}) through MaskRCNN.mold_inputs"

    def parity_twin(self, spec: ModelSpec) -> dict[str, Any] | None:
        # Seeded (untrained) weights detect nothing at the configured threshold.
        return None if spec.weights else dict(self.TWIN_OVERRIDES)


@register_kind("pyfunc")
class PythonFunctionKind(ModelKind):
    """``file.py:function``: ``function()`` returns a Keras model."""

    def load(self, spec: ModelSpec) -> LoadedModel:
        module = import_file(spec.path)
        if not hasattr(module, spec.function):
            raise UsageError(f"{spec.path} has no function {spec.function!r}")
        return LoadedModel(keras=getattr(module, spec.function)())


@register_kind("keras")
class KerasFileKind(ModelKind):
    """A saved Keras 3 ``.keras`` file."""

    def load(self, spec: ModelSpec) -> LoadedModel:
        import keras

        return LoadedModel(keras=keras.models.load_model(spec.path, compile=False))


@register_kind("h5")
class KerasH5Kind(ModelKind):
    """A full-model HDF5 file (``model.save("m.h5")``), loaded by the Keras that wrote it:
    tf_keras for Keras 2 files (the worker runs with ``TF_USE_LEGACY_KERAS=1``)."""

    def load(self, spec: ModelSpec) -> LoadedModel:
        if spec.keras == "2":
            import tf_keras as keras
        else:
            import keras
        return LoadedModel(keras=keras.models.load_model(spec.path, compile=False))


@register_kind("saved_model")
class SavedModelKind(ModelKind):
    """A TF SavedModel directory: converted from its ``serving_default`` signature, no layers."""

    def load(self, spec: ModelSpec) -> LoadedModel:
        import tensorflow as tf

        return LoadedModel(saved_model=tf.saved_model.load(spec.path))
