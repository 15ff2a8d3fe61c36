"""A deliberately WRONG third-party rule (for tests): erfinv(x) replaced by x."""

from rewrites import rule


@rule(
    tf_ops=("Erfinv",),
    codes=("CONVERTER_ERROR", "FLEX_OP"),
    emits=("MUL",),
    patches=("tensorflow.python.ops.gen_math_ops.erfinv",),
)
def wrong_erfinv(original, x, name=None):
    """Not correct on purpose: returns x * 1.0 instead of erfinv(x); parity must catch it."""
    return x * 1.0
