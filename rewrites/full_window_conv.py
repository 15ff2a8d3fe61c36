"""`Conv2D` whose window covers its whole input -> one matrix product (FULLY_CONNECTED). Speed rule.

A VALID convolution whose kernel is as large as its input (`kh == H`, `kw == W`) has a 1x1
output, and that single output pixel is

    y[n, 0, 0, o] = sum over (i, j, c) of x[n, i, j, c] * f[i, j, c, o]

which is the product of `x` reshaped to `[N, H*W*C]` with `f` reshaped to `[H*W*C, O]` (both
row-major over `(i, j, c)`: the same pairs of factors). Mask R-CNN's classifier head is this
case twice: `mrcnn_class_conv1` (7x7 kernel over the 7x7 ROI-aligned features, 1024 filters)
and `mrcnn_class_conv2` (1x1 over 1x1). Measured on the fixed small model (`opaudit profile`,
64 ROIs, 1 thread): the CONV_2D of `mrcnn_class_conv1` takes 84-347 ms under XNNPACK (8-20
GFLOP/s, a quarter to two fifths of the whole invoke), the same product as FULLY_CONNECTED
20 ms.

Values: the same sums, accumulated in another order by another kernel, so results agree to
float32 rounding (not bit for bit), like a convolution run on another backend.
"""

from __future__ import annotations

import warnings

from rewrites.registry import RuleNotApplied, rule


def window_product(x, kernel):
    """`[N, H, W, C]` x `[H, W, C, O]` -> `[N, 1, 1, O]`: a VALID conv whose window is the input.

    Args:
        x: input, NHWC, static `H, W, C`.
        kernel: `[H, W, C, O]` (TensorFlow's conv2d filter layout).
    Returns:
        `[N, 1, 1, O]`, same dtype as `x`.
    """
    import tensorflow as tf

    h, w, c, o = kernel.shape.as_list()
    flat = tf.reshape(x, [-1, h * w * c])
    y = tf.linalg.matmul(flat, tf.reshape(kernel, [h * w * c, o]))
    return tf.reshape(y, [-1, 1, 1, o])


def _same_pads_nothing(xs, ks, strides) -> bool:
    """SAME padding of a kernel as large as the input is `(ceil(H/s) - 1) * s` per dim: nothing
    when the stride is at least the input (one window), e.g. every 1x1 conv over a 1x1 input."""
    s = [int(v) for v in strides or ()]
    if len(s) != 4 or len(xs) != 4 or None in xs[1:3] or None in ks[:2]:
        return False
    return xs[1] == ks[0] and xs[2] == ks[1] and s[1] >= xs[1] and s[2] >= xs[2]


def _why_not(x, kernel, strides, padding, data_format, dilations, explicit_paddings) -> str | None:
    """None when `conv2d(x, kernel, ...)` is a full-window product, else the reason it is not."""
    xs, ks = x.shape.as_list(), kernel.shape.as_list()
    pad = padding.decode() if isinstance(padding, bytes) else str(padding)
    fmt = data_format.decode() if isinstance(data_format, bytes) else str(data_format)
    if pad == "SAME" and fmt == "NHWC" and _same_pads_nothing(xs, ks, strides):
        pad = "VALID"
    if fmt != "NHWC":
        return f"data_format {fmt} (NHWC only)"
    if pad == "EXPLICIT" and any(int(p) for p in explicit_paddings or ()):
        return "explicit padding"
    if pad not in ("VALID", "EXPLICIT"):
        return f"padding {pad}: the window covers the input only without padding"
    if len(xs) != 4 or None in xs[1:] or None in ks:
        return f"input {xs} / kernel {ks} not static"
    if any(int(d) != 1 for d in (dilations or (1, 1, 1, 1))):
        return "dilated kernel"
    if (xs[1], xs[2], xs[3]) != (ks[0], ks[1], ks[2]):
        return f"kernel {ks[:3]} does not cover input {xs[1:]}"
    return None


@rule(
    # A speed rule: planned for the inspect finding FULL_WINDOW_CONV (a CONV_2D whose kernel covers
    # its input), never by TF op type (that would name every Conv2D of every model).
    tf_ops=(),
    codes=("FULL_WINDOW_CONV",),
    emits=("RESHAPE", "FULLY_CONNECTED"),
    patches=("tensorflow.python.ops.gen_nn_ops.conv2d",),
)
def full_window_conv(original, input, filter, strides, padding, use_cudnn_on_gpu=True, explicit_paddings=(),
                     data_format="NHWC", dilations=(1, 1, 1, 1), name=None):
    """A VALID NHWC conv2d whose kernel spans the whole (static) input is `reshape(x, [N, HWC]) @
    reshape(f, [HWC, O])`, reshaped to `[N, 1, 1, O]`: each output is the same sum of the same
    products (strides do not matter: there is one window). SAME counts as VALID when it pads
    nothing (strides at least the input, so every 1x1 conv over a 1x1 input). Summed in another
    order by another kernel, so equal to float32 rounding. Any other conv (SAME that pads, a
    smaller kernel, dilation, NCHW, dynamic H/W/C) keeps the original op with a RuleNotApplied
    warning."""
    import tensorflow as tf

    x, kernel = tf.convert_to_tensor(input), tf.convert_to_tensor(filter)
    reason = _why_not(x, kernel, strides, padding, data_format, dilations, explicit_paddings)
    if reason is not None:
        warnings.warn(f"full_window_conv: {reason}", RuleNotApplied, stacklevel=2)
        return original(input, filter, strides, padding, use_cudnn_on_gpu=use_cudnn_on_gpu,
                        explicit_paddings=list(explicit_paddings or []), data_format=data_format,
                        dilations=dilations, name=name)
    return window_product(x, kernel)
