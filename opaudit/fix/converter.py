"""Keras -> builtin-only TFLite with a pinned input signature (worker side, imports TensorFlow).

`tf.lite.TFLiteConverter.from_keras_model` under Keras 3 exports the model with
`keras.export.ExportArchive` (endpoint ``model.__call__(training=False)``, input signature from
``model.inputs``) and converts that SavedModel. We do the same steps with the input signature
pinned (batch 1, dynamic dims fixed), so the op names keep the usual ``<model>_1/<layer>_1/...``
scopes that `opaudit inspect` maps back to layers, and weights are frozen from the saved
variables (unlike ``from_concrete_functions(trackable_obj=model)``, see FACTS.md). tf_keras
(Keras 2) models take the same road through tf_keras's own `ExportArchive`; their scopes carry no
``_N`` suffix (``model/ROI/...``).
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
from typing import Any, Iterator


def input_specs(sig: list[dict[str, Any]]):
    import tensorflow as tf

    return [tf.TensorSpec(s["shape"], s["dtype"], name=s["name"]) for s in sig]


def inference_fn(model):
    """``model.__call__`` with ``training=False`` (what the converter exports)."""
    return functools.partial(model.__call__, training=False)


def call_specs(sig: list[dict[str, Any]]) -> list:
    """Positional input signature for ``inference_fn``: one spec, or ``[list of specs]``."""
    specs = input_specs(sig)
    return [specs] if len(specs) > 1 else specs


@contextlib.contextmanager
def pinned_converter(model, sig: list[dict[str, Any]]) -> Iterator[Any]:
    """A builtins-only `TFLiteConverter` for ``model`` with inputs pinned to ``sig``; the
    SavedModel it converts from lives in a temporary folder removed when the block ends."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="opaudit-export-") as export_dir:
        archive = keras_package(model).export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("serve", inference_fn(model), call_specs(sig))
        if _accepts_verbose(archive):
            archive.write_out(export_dir, verbose=False)  # no "Saved artifact at ..." on stdout
        else:
            archive.write_out(export_dir)
        converter = tf.lite.TFLiteConverter.from_saved_model(export_dir, signature_keys=["serve"])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        yield converter


def keras_package(model):
    """The Keras package that built ``model``: ``tf_keras`` (Keras 2) or ``keras`` (Keras 3).

    Both ship `export.ExportArchive`; a tf_keras model must be exported by tf_keras.
    """
    import importlib

    return importlib.import_module("tf_keras" if is_tf_keras(model) else "keras")


def is_tf_keras(obj) -> bool:
    """True when ``obj`` (a model or layer) comes from tf_keras (Keras 2), not Keras 3."""
    return type(obj).__module__.split(".", 1)[0] == "tf_keras"


def _accepts_verbose(archive) -> bool:
    import inspect

    return "verbose" in inspect.signature(archive.write_out).parameters
