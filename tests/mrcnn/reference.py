"""Test oracle: the matterport Mask R-CNN TF2 port (as shipped in pixellib 0.7.1), run under tf_keras.

The reference lives in ``pixellib/instance/{config,utils,mask_rcnn}.py``. The package's own
``__init__`` imports unrelated dependencies, so the three modules are loaded by path, from an
in-memory copy with the write-up's two edits applied (the installed files are never touched):

* ``tf.compat.v1.disable_eager_execution()`` is dropped (eager execution stays on);
* ``tf.compat.v1.where`` -> ``tf.where``.

Everything that imports the reference runs in a child process with ``TF_USE_LEGACY_KERAS=1``
(``tf.keras`` is then tf_keras 2.21, i.e. Keras 2), so the test process keeps Keras 3.

API (parent side, no TensorFlow needed):

* ``unavailable() -> str | None``: why the oracle cannot run here (``None`` when it can).
* ``run_reference(out_dir, config="small", overrides=None, images=None, seed=0, layers=(),
  graph=False) -> ReferenceRun``: builds the reference inference model for our
  ``mrcnn.get_config(config, **overrides)`` (attributes mapped onto the reference ``Config``),
  gives it seeded non-trivial weights (``seed_weights``), saves them with tf_keras
  ``save_weights`` (Keras 2 HDF5: ``layer_names``, ``weight_names``, ``keras_version``,
  ``backend``), molds ``images`` with the reference ``mold_inputs``/``get_anchors`` and records
  its 7 outputs (and the outputs of the top-level ``layers`` named) on those inputs. ``graph``:
  ``predict_on_batch`` (tf.function) instead of an eager ``model(inputs)`` call.
* ``reference_mold(out_dir, images, config="small", variants=({},)) -> list[list[dict]]``: only
  the reference's input preparation (no model), per config-override variant and image: ``molded [1, H, W, 3]`` (float64, as
  the reference returns it; the model sees it as float32), ``metas``, ``windows``, ``anchors
  [N, 4]`` normalized, and ``resized``/``window``/``scale``/``padding`` (``utils.resize_image``).
  Python's ``random`` is seeded with the image index before each call ("crop" mode).

Inside a ``TF_USE_LEGACY_KERAS=1`` process (what the functions above run as
``python -m tests.mrcnn.reference REQUEST.json``): ``load_reference_modules()``,
``build_reference_model(config, seed, overrides, images) -> (reference MaskRCNN, inputs,
notes)``, ``seed_weights``/``calibrate``, and ``build_small()`` -- a zero-argument builder for
``opaudit fix --model tests/mrcnn/reference.py:build_small`` (the user's-own-code road).
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import types
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
MODULES = ("config", "utils", "mask_rcnn")  # load order: mask_rcnn imports utils
#: The write-up's two edits: (old, new, minimum number of occurrences in mask_rcnn.py).
EDITS = (("tf.compat.v1.disable_eager_execution()", "pass", 1),
         ("tf.compat.v1.where(", "tf.where(", 5))
#: Our output order (= the reference's inference outputs).
OUTPUT_NAMES = ("mrcnn_detection", "mrcnn_class", "mrcnn_bbox", "mrcnn_mask", "ROI",
                "rpn_class", "rpn_bbox")
_LOADED: list = []  # the reference modules, once per process
#: Derived Config attributes; the reference computes them itself.
DERIVED = {"BATCH_SIZE", "IMAGE_SHAPE", "IMAGE_META_SIZE", "BACKBONE_SHAPES"}


@dataclasses.dataclass
class ReferenceRun:
    """What one reference run wrote. ``inputs``: ``[input_image [B, H, W, 3] float32 molded,
    input_image_meta [B, META] float32, input_anchors [B, N, 4] float32 normalized]``;
    ``outputs``: name -> array (``OUTPUT_NAMES``); ``layers``: layer name -> array;
    ``weights``: the tf_keras HDF5 file; ``notes``: calibration facts (activation scales)."""
    weights: Path
    inputs: list
    outputs: dict
    layers: dict
    notes: dict


def reference_dir() -> Path | None:
    """Folder holding the reference modules (``pixellib/instance``), or None."""
    spec = importlib.util.find_spec("pixellib")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "instance"
    return folder if all((folder / f"{m}.py").is_file() for m in MODULES) else None


def unavailable() -> str | None:
    """Reason the oracle cannot run (pixellib / tf_keras / scikit-image / cv2 missing), or None."""
    if reference_dir() is None:
        return "pixellib 0.7.1 is not installed (pip install --no-deps pixellib==0.7.1)"
    for module in ("tf_keras", "skimage", "cv2", "scipy"):
        if importlib.util.find_spec(module) is None:
            return f"test dependency {module!r} is missing (pip install -e '.[dev]')"
    return None


def sample_images(count: int = 1, shape=(300, 400, 3), seed: int = 123) -> list[np.ndarray]:
    """Seeded synthetic RGB uint8 images ``[h, w, 3]``: noise plus flat rectangles."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        img = rng.integers(0, 256, shape).astype(np.uint8)
        h, w = shape[:2]
        img[h // 8:h // 2, w // 8:w // 2] = rng.integers(0, 256, 3)
        img[h // 2:h - h // 10, w // 2:w - w // 20] = rng.integers(0, 256, 3)
        images.append(img)
    return images


# ------------------------------------------------------------------------------- parent side

def _child(request: dict, out_dir: Path, timeout: float) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "request.json").write_text(json.dumps(request))
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "tests.mrcnn.reference",
                           str(out_dir / "request.json")], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"reference child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads((out_dir / "result.json").read_text())


def _save_images(images, out_dir: Path) -> str:
    path = out_dir / "images.npz"
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez(path, *images)
    return str(path)


def run_reference(out_dir, config: str = "small", overrides: dict | None = None, images=None,
                  seed: int = 0, layers=(), graph: bool = False,
                  timeout: float = 1500) -> ReferenceRun:
    """Build, seed, save and run the reference model; see the module docstring."""
    out_dir = Path(out_dir)
    images = sample_images() if images is None else images
    request = {"task": "run", "config": config, "overrides": overrides or {}, "seed": seed,
               "images": _save_images(images, out_dir), "layers": list(layers),
               "graph": graph, "out": str(out_dir)}
    notes = _child(request, out_dir, timeout)
    with np.load(out_dir / "outputs.npz") as data:
        inputs = [data[f"input_{i}"] for i in range(3)]
        outputs = {name: data[f"output_{name}"] for name in OUTPUT_NAMES}
        layer_values = {name: data[f"layer_{name}"] for name in layers}
    return ReferenceRun(out_dir / "weights.h5", inputs, outputs, layer_values, notes)


def reference_mold(out_dir, images, config: str = "small", variants=({},),
                   timeout: float = 600) -> list[list[dict]]:
    """The reference's ``resize_image`` + ``mold_inputs`` + ``get_anchors``, one child process:
    ``result[v][i]`` for config overrides ``variants[v]`` and ``images[i]``."""
    out_dir = Path(out_dir)
    request = {"task": "mold", "config": config, "overrides": {}, "variants": list(variants),
               "images": _save_images(images, out_dir), "out": str(out_dir)}
    _child(request, out_dir, timeout)
    keys = ("molded", "metas", "windows", "anchors", "resized", "window", "scale", "padding")
    with np.load(out_dir / "molded.npz") as data:
        return [[{k: data[f"{k}_{v}_{i}"] for k in keys} for i in range(len(images))]
                for v in range(len(variants))]


# -------------------------------------------------------------------------------- child side

def load_reference_modules() -> types.SimpleNamespace:
    """Import the three reference modules (edited in memory) as ``pixellib.instance.*``.

    Must run in a process started with ``TF_USE_LEGACY_KERAS=1`` that has not imported the real
    ``pixellib`` package. Returns ``SimpleNamespace(config=..., utils=..., mask_rcnn=...)``.
    """
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        raise RuntimeError("the reference needs TF_USE_LEGACY_KERAS=1 (tf_keras)")
    if _LOADED:
        return _LOADED[0]
    if getattr(sys.modules.get("pixellib"), "opaudit_reference", False):  # loaded by another copy of this file
        return types.SimpleNamespace(**{n: sys.modules[f"pixellib.instance.{n}"] for n in MODULES})
    folder = reference_dir()
    package = types.ModuleType("pixellib")
    package.__path__ = []
    package.opaudit_reference = True
    instance = types.ModuleType("pixellib.instance")
    instance.__path__ = []
    sys.modules.update({"pixellib": package, "pixellib.instance": instance})
    package.instance = instance
    loaded = {}
    for name in MODULES:
        source = (folder / f"{name}.py").read_text()
        if name == "mask_rcnn":
            for old, new, least in EDITS:
                if source.count(old) < least:
                    raise RuntimeError(f"reference changed: {old!r} found {source.count(old)}x")
                source = source.replace(old, new)
        module = types.ModuleType(f"pixellib.instance.{name}")
        module.__file__ = str(folder / f"{name}.py")
        sys.modules[module.__name__] = module
        setattr(instance, name, module)
        exec(compile(source, module.__file__, "exec"), module.__dict__)
        loaded[name] = module
    _LOADED.append(types.SimpleNamespace(**loaded))
    return _LOADED[0]


def reference_config(ref, ours):
    """A reference ``Config`` carrying every attribute of our ``mrcnn`` config ``ours``."""
    values = {k: v for k, v in ours.to_dict().items() if k not in DERIVED}
    cls = type("MappedConfig", (ref.config.Config,), values)
    cfg = cls(BACKBONE=ours.BACKBONE, NUM_CLASSES=ours.NUM_CLASSES, class_names=None,
              IMAGES_PER_GPU=ours.IMAGES_PER_GPU, IMAGE_MAX_DIM=ours.IMAGE_MAX_DIM,
              IMAGE_MIN_DIM=ours.IMAGE_MIN_DIM,
              DETECTION_MIN_CONFIDENCE=ours.DETECTION_MIN_CONFIDENCE,
              IMAGE_RESIZE_MODE=ours.IMAGE_RESIZE_MODE, GPU_COUNT=ours.GPU_COUNT)
    for key in ("BATCH_SIZE", "IMAGE_SHAPE", "IMAGE_META_SIZE"):
        if not np.array_equal(getattr(cfg, key), getattr(ours, key)):
            raise RuntimeError(f"config mapping: {key} {getattr(cfg, key)} != {getattr(ours, key)}")
    return cfg


def _our_config(request, overrides=None):
    from mrcnn.config import get_config  # numpy only
    return get_config(request["config"], **(request["overrides"] if overrides is None else overrides))


def _load_images(path):
    with np.load(path) as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


def _mold(ref, configs, images, out_dir: Path) -> None:
    import random
    arrays = {}
    for v, cfg in enumerate(configs):
        holder = types.SimpleNamespace(config=cfg)
        for i, image in enumerate(images):
            random.seed(i)  # "crop" mode draws its window from Python's random module
            molded, metas, windows = ref.mask_rcnn.MaskRCNN.mold_inputs(holder, [image])
            anchors = ref.mask_rcnn.MaskRCNN.get_anchors(holder, molded[0].shape)
            random.seed(i)
            resized, window, scale, padding, _ = ref.utils.resize_image(
                image, min_dim=cfg.IMAGE_MIN_DIM, min_scale=cfg.IMAGE_MIN_SCALE,
                max_dim=cfg.IMAGE_MAX_DIM, mode=cfg.IMAGE_RESIZE_MODE)
            values = {"molded": molded, "metas": metas, "windows": windows, "anchors": anchors,
                      "resized": resized, "window": np.array(window), "scale": np.array(scale),
                      "padding": np.array(padding)}
            arrays.update({f"{k}_{v}_{i}": x for k, x in values.items()})
    np.savez(out_dir / "molded.npz", **arrays)


# ----------------------------------------------------------------------- non-trivial weights

#: Prediction layers and the standard deviation their (linear) output is scaled to.
OUTPUT_STD = {"rpn_class_raw": 1.5, "rpn_bbox_pred": 1.0, "mrcnn_class_logits": 3.0,
              "mrcnn_bbox_fc": 1.0}
#: ``mrcnn_mask``: standard deviation of its logits (before the sigmoid).
MASK_LOGIT_STD = 2.0
PREDICTION_LAYERS = set(OUTPUT_STD) | {"mrcnn_mask"}


def _draw(seed: int, name: str, shape, kind: str) -> np.ndarray:
    """Seeded values for one weight (``name`` as in the HDF5 file, e.g. ``bn_conv1/gamma:0``)."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    leaf = name.split(":")[0].rsplit("/", 1)[-1]
    if leaf == "kernel":  # He-uniform on fan-in (transpose conv: fan-in is axis -1)
        fan_in = int(np.prod(shape[:-2])) * (shape[-1] if kind == "transpose" else shape[-2]) \
            if len(shape) > 2 else shape[0]
        limit = np.sqrt(6.0 / fan_in)
        if name.split("/")[0] in PREDICTION_LAYERS:  # rescaled by calibrate(); start tiny so
            limit *= 1e-3  # the first measuring pass has finite boxes
        return rng.uniform(-limit, limit, shape)
    if leaf == "gamma":  # residual branches end small, so sums of 23 blocks stay sane
        low, high = (0.2, 0.5) if name.split("/")[0].endswith("2c") else (0.6, 1.4)
        return rng.uniform(low, high, shape)
    if leaf == "beta":
        return rng.normal(0.0, 0.2, shape)
    if leaf == "moving_mean":
        return rng.normal(0.0, 0.5, shape)
    if leaf == "moving_variance":
        return rng.uniform(0.5, 2.0, shape)
    return rng.normal(0.0, 0.1, shape)  # biases


def _entries(layer):
    """``[(hdf5 weight name, variable, layer kind)]`` of a top-level tf_keras layer."""
    inner = getattr(layer, "layer", None)  # TimeDistributed
    if hasattr(layer, "layers"):  # nested rpn_model
        return [(f"{sub.name}/{v.name.split('/')[-1]}", v, "")
                for sub in layer.layers for v in sub.weights]
    kind = "transpose" if type(inner or layer).__name__ == "Conv2DTranspose" else ""
    return [(f"{layer.name}/{v.name.split('/')[-1]}", v, kind) for v in layer.weights]


def seed_weights(model, seed: int) -> None:
    """Give every weight of the reference ``model`` seeded values away from the initialisers'
    defaults (BatchNorm statistics, gamma/beta and biases included); see ``_draw``."""
    for layer in model.layers:
        for name, var, kind in _entries(layer):
            var.assign(_draw(seed, name, tuple(var.shape), kind).astype(np.float32))


def calibrate(model, inputs, seed: int) -> dict:
    """Make activations sane and detections likely, in one eager forward pass on ``inputs``.

    Each layer is calibrated on its actual input as the pass reaches it (the call of every
    BatchNorm and prediction layer is wrapped for that one pass, so upstream layers are already
    final): a BatchNorm gets moving statistics near its input's (per-channel means plus seeded
    +-10 % of the std; the layer's mean variance times seeded per-channel factors 0.8..1.25);
    a prediction layer's kernel is scaled so its pre-activation output has ``OUTPUT_STD`` (or
    ``MASK_LOGIT_STD``), then its seeded bias is set. Returns measured notes.
    """
    rng = np.random.default_rng([seed, 7])
    notes = {"bn_input_rms": {}, "raw_output_std": {}}
    patched = []

    def wrap(layer, before):
        original = layer.call

        def call(x, *args, **kwargs):
            before(x, original, args, kwargs)
            return original(x, *args, **kwargs)
        layer.call = call
        patched.append(layer)

    for layer in model.layers:
        inner = getattr(layer, "layer", layer)
        if isinstance(inner, _bn_class()):
            wrap(layer, lambda x, *_, bn=inner, name=layer.name: _set_bn(bn, name, x, rng, notes))
    for name in PREDICTION_LAYERS:
        outer, inner = _find_layer(model, name)
        wrap(outer, lambda x, call, args, kwargs, inner=inner, name=name:
             _scale_prediction(inner, name, x, call, args, kwargs, seed, notes))
    try:
        model(inputs, training=False)
    finally:
        for layer in patched:
            del layer.call
    return notes


def _bn_class():
    import tensorflow as tf
    return tf.keras.layers.BatchNormalization


def _set_bn(bn, name, x, rng, notes) -> None:
    x = np.asarray(x, dtype=np.float64)
    x = x.reshape(-1, x.shape[-1])
    mean, var = x.mean(0), float(x.var(0).mean()) + 1e-3
    bn.moving_mean.assign((mean + rng.normal(0.0, 0.1, mean.shape) * np.sqrt(var))
                          .astype(np.float32))
    bn.moving_variance.assign((var * rng.uniform(0.8, 1.25, mean.shape)).astype(np.float32))
    notes["bn_input_rms"][name] = float(np.sqrt(np.mean(x ** 2)))


def _scale_prediction(inner, name, x, call, args, kwargs, seed, notes) -> None:
    """Measure ``inner``'s linear output (activation off, bias 0) on ``x``; rescale its kernel."""
    import tensorflow as tf
    if name in notes["raw_output_std"]:
        return  # rpn_model runs once per level: calibrate on the first (P2)
    activation = inner.activation
    inner.activation = tf.keras.activations.linear
    inner.bias.assign(np.zeros(inner.bias.shape, np.float32))
    std = float(np.std(np.asarray(call(x, *args, **kwargs), dtype=np.float64))) or 1.0
    inner.activation = activation
    target = OUTPUT_STD.get(name, MASK_LOGIT_STD)
    inner.kernel.assign((inner.kernel.numpy() * (target / std)).astype(np.float32))
    inner.bias.assign(_draw(seed, f"{name}/bias:0", tuple(inner.bias.shape), "")
                      .astype(np.float32))
    notes["raw_output_std"][name] = std  # before scaling


def _find_layer(model, name):
    """``(layer whose call sees the whole input, layer holding the weights)`` for ``name``."""
    for layer in model.layers:
        if layer.name == name:
            return layer, getattr(layer, "layer", layer)
        for sub in getattr(layer, "layers", []):  # nested rpn_model
            if sub.name == name:
                return sub, sub
    raise KeyError(name)


def reference_inputs(net, images) -> list:
    """The reference's own model inputs for ``images``: ``[molded [B, H, W, 3] float32,
    metas [B, META] float32, anchors [B, N, 4] float32 normalized]``."""
    molded, metas, _ = net.mold_inputs(images)
    anchors = net.get_anchors(molded[0].shape)
    anchors = np.broadcast_to(anchors, (len(images),) + anchors.shape).astype(np.float32)
    return [molded.astype(np.float32), metas.astype(np.float32), anchors]


def build_reference_model(config: str = "small", seed: int = 0, overrides: dict | None = None,
                          images=None, model_dir: str = "/tmp"):
    """In a ``TF_USE_LEGACY_KERAS=1`` process: ``(reference MaskRCNN, inputs, notes)`` with
    seeded, calibrated weights (``seed_weights`` + ``calibrate`` on ``images``, default
    ``sample_images()``); ``inputs`` as ``reference_inputs``."""
    ref = load_reference_modules()
    cfg = reference_config(ref, _our_config({"config": config, "overrides": overrides or {}}))
    net = ref.mask_rcnn.MaskRCNN(mode="inference", config=cfg, model_dir=model_dir)
    inputs = reference_inputs(net, sample_images() if images is None else images)
    seed_weights(net.keras_model, seed)
    return net, inputs, calibrate(net.keras_model, inputs, seed)


def build_small():
    """``file.py:function`` entry for ``opaudit fix/compare --model`` (run with
    ``TF_USE_LEGACY_KERAS=1``): the reference small model, tf_keras, non-trivial weights."""
    return build_reference_model("small")[0].keras_model


def samples_small(count: int = 3):
    """``--samples`` entry for `build_small`: ``count`` seeded images (`sample_images`) molded by
    the reference itself, each ``[molded, meta, anchors]`` with batch 1 (see `reference_inputs`)."""
    net = build_reference_model("small")[0]
    return [reference_inputs(net, [img]) for img in sample_images(count)]


def _run(request, out_dir: Path) -> dict:
    import tensorflow as tf
    net, inputs, notes = build_reference_model(
        request["config"], request["seed"], request["overrides"],
        _load_images(request["images"]), str(out_dir))
    model = net.keras_model
    model.save_weights(str(out_dir / "weights.h5"))
    extra = [model.get_layer(n).output for n in request["layers"]]
    runner = tf.keras.Model(model.inputs, list(model.outputs) + extra)
    values = (runner.predict_on_batch(inputs) if request["graph"]
              else runner(inputs, training=False))
    values = [np.asarray(v) for v in values]
    arrays = {f"input_{i}": x for i, x in enumerate(inputs)}
    arrays.update({f"output_{n}": v for n, v in zip(OUTPUT_NAMES, values)})
    arrays.update({f"layer_{n}": v for n, v in zip(request["layers"], values[len(OUTPUT_NAMES):])})
    np.savez(out_dir / "outputs.npz", **arrays)
    notes["detections"] = int(np.count_nonzero(values[0][..., 4]))
    return notes


def main(argv) -> int:
    request = json.loads(Path(argv[0]).read_text())
    out_dir = Path(request["out"])
    if request["task"] == "mold":
        ref = load_reference_modules()
        configs = [reference_config(ref, _our_config(request, v)) for v in request["variants"]]
        _mold(ref, configs, _load_images(request["images"]), out_dir)
        result = {}
    else:
        result = _run(request, out_dir)
    (out_dir / "result.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
