"""Where the model comes from, and the fixed input signature used for conversion.

MODEL strings:
* ``mrcnn``              -- ``mrcnn.MaskRCNN(mrcnn.get_config(config, **overrides)).keras_model``
                           (seeded untrained weights, or ``weights`` = an .h5 file);
* ``path/file.py:fn``    -- ``fn()`` returns a Keras model;
* ``model.keras``        -- a saved Keras 3 model;
* a SavedModel directory -- no Keras layers: layer-level rules cannot apply.

`describe()` / `identity_files()` need no TensorFlow; `load()` and `signature()` run in
the worker process (they import TensorFlow/Keras).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np

from opaudit.errors import UsageError


def describe(model: str, config: str | None = None, weights: str | None = None) -> dict[str, Any]:
    """Classify a MODEL string -> ``{"source", "kind", "config", "weights", "path", "function"}``."""
    spec: dict[str, Any] = {"source": model, "config": None, "weights": weights, "path": None,
                            "function": None, "overrides": {}}
    if model == "mrcnn":
        spec.update(kind="mrcnn", config=config or "small")
    elif ".py:" in model:
        path, fn = model.rsplit(":", 1)
        spec.update(kind="pyfunc", path=str(Path(path).resolve()), function=fn)
    elif model.endswith(".keras"):
        spec.update(kind="keras", path=str(Path(model).resolve()))
    elif os.path.isdir(model) and os.path.exists(os.path.join(model, "saved_model.pb")):
        spec.update(kind="saved_model", path=str(Path(model).resolve()))
    else:
        raise UsageError(f"unknown MODEL {model!r}: expected 'mrcnn', 'file.py:function', "
                         "a .keras file or a SavedModel directory")
    if spec["path"] and not os.path.exists(spec["path"]):
        raise UsageError(f"model file not found: {spec['path']}")
    if weights and not os.path.isfile(weights):
        raise UsageError(f"weights file not found: {weights}")
    if weights:
        spec["weights"] = str(Path(weights).resolve())
    return spec


def package_files(name: str) -> list[Path]:
    """Source files of an importable package, found without importing it."""
    found = importlib.util.find_spec(name)
    if found is None:
        return []
    roots = list(found.submodule_search_locations or []) or [os.path.dirname(found.origin or "")]
    return sorted(p for r in roots for p in Path(r).rglob("*.py") if "__pycache__" not in p.parts)


def identity_files(spec: dict[str, Any]) -> list[Path]:
    """Files whose bytes identify the model (for the cache key)."""
    files: list[Path] = []
    if spec["kind"] == "mrcnn":
        files += package_files("mrcnn")
    if spec["kind"] in ("pyfunc", "keras") and spec["path"]:
        files.append(Path(spec["path"]))
    if spec["kind"] == "saved_model":
        files += sorted(p for p in Path(spec["path"]).rglob("*") if p.is_file())
    if spec.get("weights"):
        files.append(Path(spec["weights"]))
    return files


# ---------------------------------------------------------------- worker side (imports TF)

def import_file(path: str, name: str = "opaudit_user_module"):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(spec: dict[str, Any]):
    """Build/load the model -> ``(keras_model_or_None, extra)``; ``extra`` holds the mrcnn object
    (``{"mrcnn": MaskRCNN}``) or the loaded SavedModel (``{"saved_model": obj}``)."""
    kind = spec["kind"]
    if kind == "mrcnn":
        import mrcnn

        cfg = mrcnn.get_config(spec["config"], **spec.get("overrides", {}))
        net = mrcnn.MaskRCNN(cfg)
        if spec.get("weights"):
            loader = getattr(net, "load_weights", None) or net.keras_model.load_weights
            loader(spec["weights"])
        return net.keras_model, {"mrcnn": net, "config": cfg}
    if kind == "pyfunc":
        return getattr(import_file(spec["path"]), spec["function"])(), {}
    if kind == "keras":
        import keras

        return keras.models.load_model(spec["path"], compile=False), {}
    import tensorflow as tf

    return None, {"saved_model": tf.saved_model.load(spec["path"])}


def signature(model, extra: dict, samples: list[list[np.ndarray]] | None) -> list[dict[str, Any]]:
    """Input signature ``[{"name", "shape", "dtype"}]`` with batch 1 and no dynamic dims.

    Dynamic dims come from the first sample when there is one (mrcnn: `mold_inputs`, so the
    anchor count follows the config); otherwise a dynamic non-batch dim is an error.
    """
    if model is None:
        fn = extra["saved_model"].signatures["serving_default"]
        specs = [(k, v) for k, v in sorted(fn.structured_input_signature[1].items())]
        items = [(k, tuple(v.shape.as_list()), v.dtype.name) for k, v in specs]
    else:
        items = [(t.name.split(":")[0], tuple(t.shape), str(getattr(t.dtype, "name", t.dtype)))
                 for t in model.inputs]
    out = []
    for i, (name, shape, dtype) in enumerate(items):
        sample_shape = tuple(np.shape(samples[0][i])) if samples else None
        dims = []
        for d, size in enumerate(shape):
            if size is None or size < 0:
                if sample_shape is not None:
                    size = sample_shape[d]
                elif d == 0:
                    size = 1
                else:
                    raise ValueError(f"input {name!r} has a dynamic dim {d} in {shape}: "
                                     "pass --samples so it can be pinned")
            dims.append(int(size))
        out.append({"name": name, "shape": dims, "dtype": dtype})
    return out


def output_names(model) -> list[str]:
    """Keras output names in call order (dict outputs: their keys; lists: layer names)."""
    struct = getattr(model, "_outputs_struct", None)
    if isinstance(struct, dict):
        return list(struct.keys())
    return list(getattr(model, "output_names", None) or [f"output_{i}" for i in range(len(model.outputs))])
