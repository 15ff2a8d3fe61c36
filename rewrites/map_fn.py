"""Dynamic-length `tf.map_fn` -> `tf.map_fn` with a fully specified `fn_output_signature`.

`tf.map_fn` stores per-element results in a TensorList. When the element shape of the output is
not known when the loop is built (only `dtype=` given), the converter cannot lower the list:
"'tf.TensorListReserve' op requires element_shape to be 1D tensor ... Lowering tensor list ops is
failed". Tracing `fn` once on the element spec gives the output structure, dtypes and static
shapes; passing them as `fn_output_signature=` makes the same loop lower to a builtin WHILE.
"""

from __future__ import annotations

import warnings

from rewrites.registry import RuleNotApplied, rule


def infer_output_signature(fn, elems):
    """Trace `fn` on one element of `elems` and return its output as a nest of `tf.TensorSpec`.

    Args:
        fn: the map function, called with one element (a nest matching `elems`).
        elems: a tensor `[n, ...]` or a nest of tensors sharing the leading axis.

    Returns:
        A nest of `tf.TensorSpec(shape, dtype)` (shapes as static as tracing can make them), or
        None if `elems` or the outputs are not plain dense tensors.
    """
    import tensorflow as tf

    flat = tf.nest.flatten(elems)
    if not all(isinstance(t, (tf.Tensor, tf.Variable)) or hasattr(t, "shape") for t in flat):
        return None
    try:
        flat = [tf.convert_to_tensor(t) for t in flat]
    except (TypeError, ValueError):
        return None
    element = tf.nest.pack_sequence_as(elems, [tf.TensorSpec(t.shape[1:], t.dtype) for t in flat])
    outputs = tf.function(fn).get_concrete_function(element).structured_outputs
    if not all(isinstance(t, tf.Tensor) for t in tf.nest.flatten(outputs)):
        return None
    return tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype), outputs)


def _signature_or_reason(fn, elems, given):
    """(inferred signature, None) when usable, else (None, why the rule cannot apply)."""
    import tensorflow as tf

    try:
        inferred = infer_output_signature(fn, elems)
    except Exception as e:  # tracing fn alone failed (e.g. it creates variables)
        return None, f"tracing fn on one element failed: {type(e).__name__}: {e}"
    if inferred is None:
        return None, "outputs or elements are not dense tensors"
    if not _fully_defined(inferred):
        return None, f"fn output shape is not static after tracing: {inferred}"
    if given is not None:
        given_dtypes = [tf.as_dtype(getattr(g, "dtype", g)) for g in tf.nest.flatten(given)]
        if given_dtypes != [spec.dtype for spec in tf.nest.flatten(inferred)]:
            return None, f"declared output dtype {given} differs from traced {inferred}"
    return inferred, None


def _fully_defined(signature) -> bool:
    import tensorflow as tf

    leaves = tf.nest.flatten(signature)
    return bool(leaves) and all(isinstance(s, tf.TensorSpec) and s.shape.is_fully_defined()
                                for s in leaves)


@rule(
    tf_ops=("TensorListReserve", "TensorListFromTensor", "TensorListStack"),
    codes=("TENSOR_LIST_OPS", "CONVERTER_ERROR"),
    emits=("WHILE",),
    patches=("tensorflow.python.ops.map_fn.map_fn",),
)
def map_fn(original, fn, elems, dtype=None, parallel_iterations=None, back_prop=True,
           swap_memory=False, infer_shape=True, name=None, fn_output_signature=None):
    """Run the same `tf.map_fn` with a fully specified `fn_output_signature` inferred by tracing.

    The loop, `fn` and the elements are unchanged, so results are identical; only the output
    TensorList gets a static element shape, which lets the converter lower it to WHILE (with the
    body's own ops in a subgraph). Applies when `fn`'s output shapes are static after tracing
    (e.g. padded to a fixed size and `set_shape`); a dtype given by the caller must agree. When the
    shape is still dynamic, or outputs are ragged/sparse, the original call is kept, with a warning.
    """
    given = fn_output_signature if fn_output_signature is not None else dtype
    kwargs = dict(parallel_iterations=parallel_iterations, back_prop=back_prop,
                  swap_memory=swap_memory, infer_shape=infer_shape, name=name)
    if given is not None and _fully_defined(given):
        return original(fn, elems, fn_output_signature=given, **kwargs)
    inferred, reason = _signature_or_reason(fn, elems, given)
    if reason:
        warnings.warn(f"map_fn rule: {reason}; keeping the TensorList map_fn", RuleNotApplied,
                      stacklevel=2)
        return original(fn, elems, fn_output_signature=given, **kwargs)
    return original(fn, elems, fn_output_signature=inferred, **kwargs)
