"""Naming conventions shared by TensorFlow, the TFLite converter and Keras: one home for each.

Pure string functions, no TensorFlow import:

* Select-TF ("Flex") custom codes are ``"Flex" + <TF op type>`` (``FlexCropAndResize``);
  MLIR op names in converter errors are ``"tf." + <TF op type>`` (``tf.CropAndResize``).
* Keras 3 suffixes every name scope it enters while tracing with ``_N`` (``roi_align_1``);
  tf-keras does not. ``functional_1/roi_align_classifier_1/CropAndResize`` is Keras 3,
  ``model/ROI/rpn_non_max_suppression/NonMaxSuppressionV3`` is tf-keras.
"""

from __future__ import annotations

import re
from typing import Literal

FLEX_PREFIX = "Flex"
MLIR_TF_PREFIX = "tf."
_KERAS_SCOPE_SUFFIX = re.compile(r"_\d+$")
_FLEX_CODE = re.compile(r"^Flex[A-Z]")

OpKind = Literal["builtin", "custom", "flex"]


def custom_code_kind(custom_code: str) -> OpKind:
    """``flex`` for a Select-TF custom code (``FlexCropAndResize``), else ``custom``."""
    return "flex" if custom_code.startswith(FLEX_PREFIX) and len(custom_code) > len(FLEX_PREFIX) else "custom"


def tf_op_type(name: str | None) -> str | None:
    """The TF op type named by a Flex custom code, an MLIR op name or a bare op type.

    ``FlexCropAndResize`` / ``tf.CropAndResize`` / ``CropAndResize`` -> ``CropAndResize``;
    a custom code that is not Flex (``NonMaxSuppressionV3``) is returned unchanged; None stays None.
    """
    if not name:
        return None
    op = name.strip().removeprefix(MLIR_TF_PREFIX)
    return op[len(FLEX_PREFIX):] if _FLEX_CODE.match(op) else op


def has_scope_suffix(segment: str) -> bool:
    """True when ``segment`` ends in a Keras 3 ``_N`` scope suffix (``roi_align_1``)."""
    return bool(_KERAS_SCOPE_SUFFIX.search(segment))


def strip_scope_suffix(segment: str) -> str:
    """``roi_align_classifier_1`` -> ``roi_align_classifier``; a segment without ``_N`` is unchanged.

    One suffix only: a layer really called ``conv_1`` traced by Keras 3 is ``conv_1_1``.
    """
    return _KERAS_SCOPE_SUFFIX.sub("", segment)


def strip_path_suffixes(path: str) -> str:
    """Strip one Keras 3 suffix from every ``/`` segment: ``functional_1/roi_1`` -> ``functional/roi``."""
    return "/".join(strip_scope_suffix(p) for p in path.split("/"))
