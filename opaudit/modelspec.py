"""Where a Keras model comes from (the MODEL argument of `fix` and `compare`) and how it is pinned.

MODEL strings:

* ``mrcnn``              -- ``mrcnn.MaskRCNN(mrcnn.get_config(config, **overrides)).keras_model``
                           (seeded weights, or ``weights`` = an .h5 file);
* ``path/file.py:fn``    -- ``fn()`` returns a Keras model;
* ``model.keras``        -- a saved Keras 3 model;
* ``model.h5``           -- a Keras 2 (or Keras 3 legacy) full-model HDF5 file (``model.save``);
* a SavedModel directory -- no Keras layers: layer-level rules cannot apply.

Keras 2 code and files run under tf_keras (``TF_USE_LEGACY_KERAS=1`` in the worker, set before
TensorFlow is imported). ``ModelSpec.keras`` says which: "2" when asked for (``--keras 2``), when
the user's environment already sets ``TF_USE_LEGACY_KERAS``, when a ``file.py`` names
``tf_keras`` / ``TF_USE_LEGACY_KERAS``, or when an ``.h5`` file was written by Keras 2.

`describe()` and `identity_files()` read names and files only (no TensorFlow). `signature()` and
`output_names()` take a built model and run in a worker process; building is the job of the
model kind (`opaudit.model_kinds`).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from opaudit.errors import UsageError


@dataclass(frozen=True)
class ModelSpec:
    """A MODEL argument, classified. ``kind`` names an entry of `opaudit.model_kinds`.

    ``path`` is absolute (file, SavedModel folder or Python file); ``function`` is the builder's
    name for ``pyfunc``; ``config``/``overrides`` are the mrcnn config name and attribute overrides.
    """

    source: str
    kind: str
    config: str | None = None
    weights: str | None = None
    path: str | None = None
    function: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    keras: str = "3"  # "2": built and converted under tf_keras
    weights_exclude: list[str] = field(default_factory=list)  # layers not loaded from ``weights``

    @property
    def env(self) -> dict[str, str]:
        """Environment a worker needs for this model (set before TensorFlow is imported)."""
        return {"TF_USE_LEGACY_KERAS": "1"} if self.keras == "2" else {}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
        return cls(**{f.name: d.get(f.name) for f in dataclasses.fields(cls) if f.name in d})

    def with_overrides(self, overrides: dict[str, Any]) -> ModelSpec:
        """The same model with more config attribute overrides (mrcnn twins)."""
        return dataclasses.replace(self, overrides={**self.overrides, **overrides})


def describe(model: str, config: str | None = None, weights: str | None = None,
             keras: str | None = None) -> ModelSpec:
    """Classify a MODEL string. ``keras`` ("2" | "3") overrides the detected Keras version.

    Raises UsageError for an unknown form, a missing file or a weights-only .h5 given as MODEL.
    """
    if model == "mrcnn":
        spec = ModelSpec(model, "mrcnn", config=config or "small")
    elif ".py:" in model:
        path, fn = model.rsplit(":", 1)
        spec = ModelSpec(model, "pyfunc", path=str(Path(path).resolve()), function=fn)
    elif model.endswith(".keras"):
        spec = ModelSpec(model, "keras", path=str(Path(model).resolve()))
    elif model.endswith((".h5", ".hdf5")):
        spec = ModelSpec(model, "h5", path=str(Path(model).resolve()))
    elif os.path.isdir(model) and os.path.exists(os.path.join(model, "saved_model.pb")):
        spec = ModelSpec(model, "saved_model", path=str(Path(model).resolve()))
    else:
        raise UsageError(f"unknown MODEL {model!r}: expected 'mrcnn', 'file.py:function', "
                         "a .keras or .h5 file or a SavedModel directory")
    if spec.path and not os.path.exists(spec.path):
        raise UsageError(f"model file not found: {spec.path}")
    if weights and not os.path.isfile(weights):
        raise UsageError(f"weights file not found: {weights}")
    if keras not in (None, "2", "3"):
        raise UsageError(f"--keras takes 2 or 3, got {keras!r}")
    return dataclasses.replace(spec, weights=str(Path(weights).resolve()) if weights else None,
                               keras=keras or detect_keras_version(spec))


def detect_keras_version(spec: ModelSpec) -> str:
    """ "2" when ``spec`` is Keras 2 (tf_keras) code or a Keras 2 file, else "3" (see module doc)."""
    if spec.kind in ("mrcnn", "keras", "saved_model"):
        return "3"
    if spec.kind == "h5":
        return h5_keras_version(spec.path)
    if os.environ.get("TF_USE_LEGACY_KERAS", "").lower() in ("1", "true", "yes"):
        return "2"
    text = Path(spec.path).read_text(errors="replace")
    return "2" if ("tf_keras" in text or "TF_USE_LEGACY_KERAS" in text) else "3"


def h5_keras_version(path: str) -> str:
    """Major Keras version that wrote a full-model HDF5 file ("2" or "3").

    Raises UsageError for a file that is not HDF5 or holds weights only (no ``model_config``).
    """
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if "model_config" not in f.attrs:
                raise UsageError(f"{path} holds weights only (no model_config): pass it with --weights")
            version = f.attrs.get("keras_version", b"")
    except OSError as exc:
        raise UsageError(f"{path} is not an HDF5 file: {exc}") from None
    version = version.decode() if isinstance(version, bytes) else str(version)
    return "3" if version.startswith("3") else "2"


def package_files(name: str) -> list[Path]:
    """Source files of an importable package, found without importing it."""
    found = importlib.util.find_spec(name)
    if found is None:
        return []
    roots = list(found.submodule_search_locations or []) or [os.path.dirname(found.origin or "")]
    return sorted(p for r in roots for p in Path(r).rglob("*.py") if "__pycache__" not in p.parts)


def identity_files(spec: ModelSpec) -> list[Path]:
    """Files whose bytes identify the model (for the cache key)."""
    files: list[Path] = []
    if spec.kind == "mrcnn":
        files += package_files("mrcnn")
    if spec.kind in ("pyfunc", "keras", "h5") and spec.path:
        files.append(Path(spec.path))
    if spec.kind == "saved_model" and spec.path:
        files += sorted(p for p in Path(spec.path).rglob("*") if p.is_file())
    if spec.weights:
        files.append(Path(spec.weights))
    return files


_IMPORTED: dict[str, Any] = {}


def import_file(path: str, name: str = "opaudit_user_module"):
    """Import a Python file by path (user model builders, sample and rule files).

    A file is imported once per process: ``--model f.py:build --samples f.py:samples`` share
    one module, so whatever ``build`` set up is there for ``samples``.
    """
    key = os.path.realpath(path)
    if key in _IMPORTED:
        return _IMPORTED[key]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses, pickling and typing look the module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    _IMPORTED[key] = module
    return module


# ---------------------------------------------------------------- worker side (built models)

def signature(model, saved_model, samples: list[list[np.ndarray]] | None) -> list[dict[str, Any]]:
    """Input signature ``[{"name", "shape", "dtype"}]`` with batch 1 and no dynamic dims.

    ``model`` is the Keras model, or None with ``saved_model`` (a loaded SavedModel) instead.
    Dynamic dims come from the first sample when there is one (mrcnn: `mold_inputs`, so the
    anchor count follows the config); otherwise a dynamic non-batch dim is an error.
    """
    if model is None:
        fn = saved_model.signatures["serving_default"]
        items = [(k, tuple(v.shape.as_list()), v.dtype.name)
                 for k, v in sorted(fn.structured_input_signature[1].items())]
    else:
        items = [(t.name.split(":")[0], tuple(t.shape), str(getattr(t.dtype, "name", t.dtype)))
                 for t in model.inputs]
    return [{"name": name, "shape": _pinned(name, shape, np.shape(samples[0][i]) if samples else None),
             "dtype": dtype} for i, (name, shape, dtype) in enumerate(items)]


def _pinned(name: str, shape: tuple, sample_shape: tuple | None) -> list[int]:
    dims = []
    for d, size in enumerate(shape):
        if size is None or size < 0:
            if sample_shape is not None and d < len(sample_shape):
                size = sample_shape[d]
            elif d == 0:
                size = 1
            else:
                raise UsageError(f"input {name!r} has a dynamic dim {d} in {shape}: "
                                 "pass --samples so it can be pinned")
        dims.append(int(size))
    return dims


def output_names(model) -> list[str]:
    """Keras output names in call order (dict outputs: their keys; lists: layer names)."""
    struct = getattr(model, "_outputs_struct", None)
    if isinstance(struct, dict):
        return list(struct.keys())
    return list(getattr(model, "output_names", None) or [f"output_{i}" for i in range(len(model.outputs))])
