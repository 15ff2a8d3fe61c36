"""Map TensorFlow op names / MLIR locations back to Keras layer paths.

Op names carry the Keras name scopes: ``tiny_detector_1/roi_pool_1/CropAndResize``.
Keras 3 suffixes every scope with ``_N`` (``roi_pool`` -> ``roi_pool_1``) and nested models add
their own segment. We resolve segments against the model's real layer paths: for each
segment, first the name with a trailing ``_N`` removed, then the name as it is (a layer may
really be called ``conv_1``). Nested functional models give paths ``outer/inner``.
No TensorFlow import: works on names only.
"""

from __future__ import annotations

from opaudit.names import strip_scope_suffix


def _candidates(segment: str) -> list[str]:
    seg = segment.split("@", 1)[0].split(":", 1)[0]
    stripped = strip_scope_suffix(seg)
    return [stripped, seg] if stripped != seg else [seg]


def resolve_layer(op_name: str, layer_paths: set[str] | frozenset[str]) -> str | None:
    """Deepest known layer path named by ``op_name`` (a TF op name or one MLIR call-site name).

    ``layer_paths`` holds every layer path of the (original, unpinned) model: top-level names
    (``roi_pool``) and nested ones (``rpn_model/rpn_conv_shared``). Returns None when no
    segment names a layer (e.g. ``StatefulPartitionedCall_1``).
    """
    if not op_name:
        return None
    segments = op_name.split("@", 1)[0].split(";", 1)[0].split("/")
    best: str | None = None
    prefix: str | None = None
    for seg in segments[:-1] if len(segments) > 1 else segments:
        for cand in _candidates(seg):
            path = f"{prefix}/{cand}" if prefix else cand
            if path in layer_paths:
                best = prefix = path
                break
            if prefix is None and cand in layer_paths:
                best = prefix = cand
                break
    return best


def resolve_location(calls: list[str], layer_paths: set[str] | frozenset[str]) -> str | None:
    """First layer named along a converter error's call-site chain (innermost call first)."""
    for name in calls:
        layer = resolve_layer(name, layer_paths)
        if layer:
            return layer
    return None
