"""`TimeDistributed(layer)` -> fold time into batch: RESHAPE -> layer once -> RESHAPE.

Keras 3's `TimeDistributed.call` loops in Python over a static time axis, so the converted
graph holds one copy of the inner layer per time step (e.g. 200 CONV_2D for 200 ROIs) plus
STRIDED_SLICE/PACK/TRANSPOSE glue. Reshaping `[B, T, ...]` to `[B*T, ...]`, calling the inner
layer once and reshaping back computes the same function with one node per op; the values agree
to float rounding, not bit for bit (a convolution over all steps at once accumulates in another
order than one step at a time: 6e-5 absolute measured on a Mask R-CNN head conv). It is what
Keras 2's `TimeDistributed` computes.
"""

from __future__ import annotations

from rewrites.registry import rule


def fold_time(inner_call, inputs, mask=None, **kwargs):
    """Apply a per-sample `inner_call` to `[B, T, ...]` inputs as one `[B*T, ...]` batch.

    Args:
        inner_call: the wrapped layer's `call` (per-sample: Conv2D, Dense, BatchNorm in inference...).
        inputs: `[B, T, *feature]` tensor.
        mask: optional `[B, T, ...]` mask, folded the same way and passed on as `mask=`.
        kwargs: passed to `inner_call` unchanged (`training=`).

    Returns:
        `[B, T, *out_feature]`, equal to calling `inner_call` on every time step.
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(inputs)
    folded = tf.reshape(x, _merged_shape(x))
    if mask is not None:
        m = tf.convert_to_tensor(mask)
        kwargs["mask"] = tf.reshape(m, _merged_shape(m))
    y = inner_call(folded, **kwargs)
    steps, features = x.shape[1], y.shape.as_list()[1:]
    if steps is not None and None not in features:
        return tf.reshape(y, [-1, steps, *features])  # constant shape: a plain RESHAPE
    return tf.reshape(y, tf.concat([[-1], tf.shape(x)[1:2], tf.shape(y)[1:]], axis=0))


def _merged_shape(t):
    """Target shape `[-1, *t.shape[2:]]`: a Python list when static, else a shape tensor."""
    import tensorflow as tf

    dims = t.shape.as_list()[2:]
    if None not in dims:
        return [-1, *dims]
    return tf.concat([[-1], tf.shape(t)[2:]], axis=0)


@rule(
    tf_ops=(),
    codes=("OP_EXPLOSION",),
    emits=("RESHAPE",),
    layer_types=("TimeDistributed",),
)
def time_distributed(layer, call, inputs, training=None, mask=None):
    """Fold the time axis into the batch: one call of the inner layer on `[B*T, ...]`.

    Equal to Keras' per-step loop for layers that treat samples independently (Conv2D,
    Conv2DTranspose, Dense, pooling, activations, BatchNormalization in inference). With
    `training=True` a BatchNormalization would average over B*T samples instead of B per step,
    so the layer's own call is used then. Static `[T, ...]` dims give constant-shape RESHAPEs.
    """
    if training is True:
        return call(inputs, training=training, mask=mask)
    inner = layer.layer
    kwargs = {}
    if getattr(inner, "_call_has_training_arg", False):
        kwargs["training"] = training
    use_mask = mask if getattr(inner, "_call_has_mask_arg", False) else None
    return fold_time(inner.call, inputs, mask=use_mask, **kwargs)
