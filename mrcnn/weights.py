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
All shapes are checked before anything is assigned; a mismatch raises ``ValueError`` naming the
layer, weight, both shapes and the ``exclude=[...]`` that would skip it.
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


def load_weights(model: keras.Model, filepath: str, exclude=None) -> dict:
    """Load ``filepath`` (reference layout) into ``model`` by layer name.

    exclude: layer names to skip (e.g. ``HEAD_LAYERS`` when NUM_CLASSES differs).
    Returns ``{"loaded": [...], "skipped": [...in file but not in model or excluded],
    "not_in_file": [...model layers with weights that the file lacks]}``.
    Raises ``ValueError`` (nothing assigned) on any count or shape mismatch.
    """
    exclude = set(exclude or [])
    by_name = {layer.name: layer for layer in model.layers}
    assignments, errors, loaded, skipped = [], [], [], []
    with h5py.File(filepath, "r") as f:
        if "layer_names" not in f.attrs and "model_weights" in f:
            f = f["model_weights"]
        if "layer_names" not in f.attrs:
            raise ValueError(f"{filepath}: no 'layer_names' attribute; not a Keras 2 HDF5 weights file")
        file_layers = _decode(f.attrs["layer_names"])
        for name in file_layers:
            weight_names = _decode(f[name].attrs.get("weight_names", []))
            if name in exclude or name not in by_name:
                if weight_names:
                    skipped.append(name)
                continue
            entries = layer_weight_entries(by_name[name])
            if not weight_names and not entries:
                continue
            if len(weight_names) != len(entries):
                errors.append(f"layer {name!r}: file has {len(weight_names)} weights "
                              f"{weight_names}, model has {len(entries)}")
                continue
            file_keys = [_key(w) for w in weight_names]
            model_keys = {_key(n): (n, v) for n, v in entries}
            if sorted(file_keys) == sorted(model_keys):
                pairs = [(model_keys[k], w) for k, w in zip(file_keys, weight_names)]
            else:  # names differ (other Keras naming): fall back to order, like Keras 2
                pairs = list(zip(entries, weight_names))
            for (model_name, var), wname in pairs:
                value = np.asarray(f[name][wname])
                if tuple(var.shape) != value.shape:
                    errors.append(f"layer {name!r} weight {wname!r}: file shape {value.shape} "
                                  f"!= model shape {tuple(var.shape)} ({model_name})")
                else:
                    assignments.append((var, value))
            loaded.append(name)
    if errors:
        bad = sorted({e.split("'")[1] for e in errors})
        raise ValueError("cannot load weights from {}:\n  {}\nIf these layers differ on purpose "
                         "(e.g. another NUM_CLASSES), pass exclude={}".format(
                             filepath, "\n  ".join(errors), bad))
    for var, value in assignments:
        var.assign(value)
    in_file = set(file_layers)
    not_in_file = [l.name for l in model.layers
                   if l.weights and l.name not in in_file and l.name not in exclude]
    return {"loaded": loaded, "skipped": skipped, "not_in_file": not_in_file}


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
