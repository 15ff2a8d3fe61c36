"""Weights: deterministic seeding and HDF5 I/O in the reference (Keras 2) layout, via h5py.

File layout (what Keras 2 ``save_weights`` wrote and the published ``mask_rcnn_coco.h5`` uses):

* file attrs ``layer_names`` (bytes, every top-level layer, in model order), ``backend``,
  ``keras_version``; a file saved with the whole model keeps these under group ``model_weights``;
* one group per layer name with attr ``weight_names``: e.g. ``b"conv1/kernel:0"``,
  ``b"bn_conv1/gamma:0"``, ``b"mrcnn_mask/kernel:0"`` (TimeDistributed layers use the wrapper's
  name), and for the nested ``rpn_model`` the inner names ``b"rpn_conv_shared/kernel:0"``, ...;
* one dataset per weight name inside the layer group (the ``/`` makes h5py sub-groups).

Loading is by top-level layer name (layers absent from the model are skipped, ``exclude`` lists
layer names to skip); inside a layer, weights are matched by name, else by order (like Keras 2).
Files written by Keras 2 / tf_keras ``save_weights`` (byte or str attributes) and by
``save_weights`` here read the same. All shapes are checked before anything is assigned; the
first layer that does not fit raises ``WeightsMismatchError`` naming it, the weight, both
shapes and the ``exclude=[...]`` that would skip it. ``plan_load`` is the dry run: which layers
would come from the file (the provenance report), without touching the model.
"""
from __future__ import annotations

import zlib

import h5py
import keras
import numpy as np

#: Layers whose shapes depend on NUM_CLASSES: exclude them to fine-tune from COCO weights.
HEAD_LAYERS = ["mrcnn_class_logits", "mrcnn_bbox_fc", "mrcnn_bbox", "mrcnn_mask"]

#: Prediction layers seeded with a small normal init (Detectron-style std), so untrained scores
#: are not saturated and untrained box deltas stay small.
PREDICTION_INIT_STD = {"rpn_class_raw": 0.01, "rpn_bbox_pred": 0.001, "mrcnn_class_logits": 0.01,
                       "mrcnn_bbox_fc": 0.001, "mrcnn_mask": 0.01}
#: Classifier kernels made zero-mean per output unit, which cancels the part of a logit that comes
#: from a component shared by all input channels. (On its own this did not stop seed 0 from
#: labelling every ROI background: untrained ROI features are too alike; see ZERO_BACKGROUND.)
CENTERED_INIT = ("rpn_class_raw", "mrcnn_class_logits")
#: ZERO_BACKGROUND: the background column of the seeded ``mrcnn_class_logits`` kernel is zero, so
#: an untrained model does not classify every ROI as background (which it did for some seeds).


def layer_weight_entries(layer) -> list[tuple[str, object]]:
    """``[(h5 weight name, keras Variable)]`` of a top-level layer, in Keras 2 order."""
    if isinstance(layer, keras.Model):  # nested model (rpn_model): inner layer names
        return [(f"{inner.name}/{v.name}:0", v) for inner in layer.layers for v in inner.weights]
    return [(f"{layer.name}/{v.name}:0", v) for v in layer.weights]


def _key(weight_name: str) -> str:
    """``'a/b/kernel:0'`` -> ``'b/kernel'`` (last layer scope + variable name)."""
    parts = weight_name.split(":")[0].split("/")
    return "/".join(parts[-2:])


def save_weights(model: keras.Model, filepath: str) -> None:
    """Write all top-level layers' weights of ``model`` to ``filepath`` (reference HDF5 layout)."""
    with h5py.File(filepath, "w") as f:
        f.attrs["layer_names"] = np.array([layer.name.encode() for layer in model.layers])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = keras.__version__.encode()
        for layer in model.layers:
            group = f.create_group(layer.name)
            entries = layer_weight_entries(layer)
            group.attrs["weight_names"] = np.array([n.encode() for n, _ in entries], dtype="S")
            for name, var in entries:
                group.create_dataset(name, data=np.asarray(var.numpy()))


def _decode(names) -> list[str]:
    return [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in names]


class WeightsMismatchError(ValueError):
    """A layer of the file does not fit the model (``layer``, ``detail``); nothing was assigned."""

    def __init__(self, filepath, layer: str, detail: str):
        self.layer, self.detail = layer, detail
        super().__init__(f"cannot load weights from {filepath}: layer {layer!r}: {detail}. If it "
                         f"differs on purpose (e.g. another NUM_CLASSES), pass exclude="
                         f"[{layer!r}, ...] (mrcnn.weights.HEAD_LAYERS lists the class-count heads)")


def _weights_group(f, filepath):
    """The group holding ``layer_names`` (the file root, or ``model_weights`` of a full save)."""
    group = f if "layer_names" in f.attrs else f.get("model_weights")
    if group is None or "layer_names" not in group.attrs:
        raise ValueError(f"{filepath}: no 'layer_names' attribute; not a Keras HDF5 weights file")
    return group


def _pair_up(entries, weight_names):
    """Match file weight names to ``entries`` by ``layer/variable`` suffix, else by position."""
    ours = {_key(n): (n, v) for n, v in entries}
    if sorted(ours) == sorted(_key(w) for w in weight_names):
        return [(ours[_key(w)], w) for w in weight_names]
    return list(zip(entries, weight_names))


def plan_load(model: keras.Model, filepath: str, exclude=None):
    """Read ``filepath`` (Keras 2 HDF5 layout) against ``model`` without assigning anything.

    Returns ``(assignments [(variable, array)], report)``; ``report`` is ``load_weights``'s.
    Raises ``WeightsMismatchError`` at the first layer (file order) whose weight count or shapes
    disagree with the model, ``ValueError`` when the file is not in that layout.
    """
    exclude = set(exclude or [])
    layers = {layer.name: layer for layer in model.layers}
    assignments = []
    report = {"file": str(filepath), "loaded": [], "excluded": [], "skipped": []}
    with h5py.File(filepath, "r") as f:
        group = _weights_group(f, filepath)
        report.update({k: _decode([group.attrs.get(k, b"")])[0] for k in ("keras_version", "backend")})
        file_layers = _decode(group.attrs["layer_names"])
        for name in file_layers:
            weight_names = _decode(group[name].attrs.get("weight_names", []))
            if not weight_names:
                continue
            if name in exclude or name not in layers:
                report["excluded" if name in exclude else "skipped"].append(name)
                continue
            entries = layer_weight_entries(layers[name])
            if len(weight_names) != len(entries):
                raise WeightsMismatchError(filepath, name, f"the file has {len(weight_names)} "
                                           f"weights, the model {len(entries)}")
            for (model_name, var), wname in _pair_up(entries, weight_names):
                value = np.asarray(group[name][wname])
                if tuple(var.shape) != value.shape:
                    raise WeightsMismatchError(filepath, name, f"weight {wname!r} has shape "
                                               f"{value.shape} in the file, {tuple(var.shape)} "
                                               f"in the model ({model_name})")
                assignments.append((var, value))
            report["loaded"].append(name)
    report["not_in_file"] = [l.name for l in model.layers if l.weights and
                             l.name not in report["loaded"] and l.name not in exclude]
    return assignments, report


def load_weights(model: keras.Model, filepath: str, exclude=None) -> dict:
    """Load ``filepath`` into ``model`` by top-level layer name (all or nothing).

    exclude: layer names to leave as they are (e.g. ``HEAD_LAYERS`` to fine-tune from COCO).
    Returns the provenance report: ``file``, ``keras_version``, ``backend`` (file attributes),
    ``loaded`` (layers whose weights now come from the file), ``excluded``, ``skipped`` (in the
    file, not in the model) and ``not_in_file`` (model layers with weights the file lacks: they
    keep their current values). Raises like ``plan_load``.
    """
    assignments, report = plan_load(model, filepath, exclude)
    for var, value in assignments:
        var.assign(value)
    return report


def seed_weights(model: keras.Model, seed: int) -> None:
    """Overwrite every weight with values drawn from ``seed`` and the weight's HDF5 name.

    Same seed + same config -> bitwise-identical weights, independent of Keras' global RNG and of
    build order. Kernels: Glorot-uniform, except the prediction layers in ``PREDICTION_INIT_STD``
    (normal with that std, zero-mean per unit for ``CENTERED_INIT``, background column of
    ``mrcnn_class_logits`` zero); biases, beta, moving_mean: 0; gamma, moving_variance: 1.
    These weights are untrained: detections are noise (see docs/motivating-example.md).
    """
    for layer in model.layers:
        for name, var in layer_weight_entries(layer):
            shape = tuple(var.shape)
            leaf = name.split(":")[0].rsplit("/", 1)[-1]
            rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
            std = PREDICTION_INIT_STD.get(name.split("/")[0])
            if leaf == "kernel" and std is not None:
                value = rng.normal(0.0, std, size=shape)
                if name.split("/")[0] in CENTERED_INIT:
                    value -= value.mean(axis=tuple(range(len(shape) - 1)), keepdims=True)
                if name.split("/")[0] == "mrcnn_class_logits":
                    value[..., 0] = 0.0  # background logit = its bias (0): see ZERO_BACKGROUND
            elif leaf == "kernel":
                receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
                fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
                limit = np.sqrt(6.0 / (fan_in + fan_out))
                value = rng.uniform(-limit, limit, size=shape)
            elif leaf in ("gamma", "moving_variance"):
                value = np.ones(shape)
            else:
                value = np.zeros(shape)
            var.assign(value.astype(var.dtype))
