"""`CropAndResize` -> bilinear (or nearest) sampling written with builtin ops.

`tf.image.crop_and_resize` needs the Flex op `CropAndResize`. This rule computes the same crops
with GATHER, FLOOR, CEIL, MUL, ADD, SUB, CAST, comparisons and SELECT_V2, following the
sampling rule of TensorFlow's CPU kernel step by step (same float32 operation order):

* box `[y1, x1, y2, x2]` is normalized; a coordinate `y` maps to `y * (image_height - 1)`;
* for `crop_height > 1`, row `i` samples `in_y = y1*(H-1) + i * ((y2-y1)*(H-1)/(crop_height-1))`;
  for `crop_height == 1` it samples the box centre `0.5*(y1+y2)*(H-1)` (same for x);
* a sample with `in_y` or `in_x` outside `[0, size-1]` is `extrapolation_value` (boxes may be
  flipped, `y1 > y2`, or lie partly/fully outside the image);
* bilinear: `top = tl + (tr-tl)*x_lerp`, `bottom = bl + (br-bl)*x_lerp`,
  `out = top + (bottom-top)*y_lerp` with `floor`/`ceil` neighbours;
  nearest: the pixel at `round(in)` (half away from zero; `in >= 0` there).
"""

from __future__ import annotations

import warnings
from typing import Any

from rewrites.registry import RuleNotApplied, rule


def sample_crops(
    image: Any,
    boxes: Any,
    box_indices: Any,
    crop_height: int,
    crop_width: int,
    method: str = "bilinear",
    extrapolation_value: Any = 0.0,
) -> Any:
    """Crop and resize with builtin-lowerable ops.

    Args:
        image: `[batch, height, width, depth]`, any real dtype (sampled as float32).
        boxes: `[num_boxes, (y1, x1, y2, x2)]` float32, normalized to `[0, 1]` (values outside allowed).
        box_indices: `[num_boxes]` int, which image each box samples, in `[0, batch)`.
        crop_height, crop_width: static output size (>= 1).
        method: "bilinear" or "nearest".
        extrapolation_value: value of samples outside the image (float or scalar tensor).

    Returns:
        `[num_boxes, crop_height, crop_width, depth]` float32, equal to `tf.image.crop_and_resize`.
    """
    import tensorflow as tf

    img = tf.cast(image, tf.float32)
    boxes = tf.cast(boxes, tf.float32)
    box_indices = tf.cast(box_indices, tf.int32)
    _, height, width, depth = _dims(img)
    y1, x1, y2, x2 = (boxes[:, k] for k in range(4))  # not unstack: UNPACK rejects 0 boxes
    in_y, valid_y = _sample_coords(y1, y2, height, crop_height)  # [N, ch]
    in_x, valid_x = _sample_coords(x1, x2, width, crop_width)  # [N, cw]
    flat = tf.reshape(img, [-1, depth])  # [batch*H*W, depth]
    row0 = tf.reshape(box_indices * height, [-1, 1, 1])  # [N, 1, 1]

    def pick(iy: Any, ix: Any) -> Any:
        """Pixels at integer float coords iy [N, ch], ix [N, cw] -> [N, ch, cw, depth]."""
        rows = row0 + tf.cast(iy, tf.int32)[:, :, None]  # [N, ch, 1]: image row in the batch
        return tf.gather(flat, rows * width + tf.cast(ix, tf.int32)[:, None, :])

    if method == "nearest":
        out = pick(_round_half_up(in_y), _round_half_up(in_x))
    else:
        top_y, left_x = tf.floor(in_y), tf.floor(in_x)
        y_lerp = (in_y - top_y)[:, :, None, None]
        x_lerp = (in_x - left_x)[:, None, :, None]
        bottom_y, right_x = tf.math.ceil(in_y), tf.math.ceil(in_x)
        top_left, top_right = pick(top_y, left_x), pick(top_y, right_x)
        bottom_left, bottom_right = pick(bottom_y, left_x), pick(bottom_y, right_x)
        top = top_left + (top_right - top_left) * x_lerp
        bottom = bottom_left + (bottom_right - bottom_left) * x_lerp
        out = top + (bottom - top) * y_lerp
    inside = tf.logical_and(valid_y[:, :, None, None], valid_x[:, None, :, None])
    return tf.where(inside, out, tf.cast(extrapolation_value, tf.float32))


def _dims(img: Any) -> list[Any]:
    """[batch, H, W, depth] as Python ints where static, else scalar int32 tensors."""
    import tensorflow as tf

    dynamic = tf.shape(img)
    return [d if d is not None else dynamic[i] for i, d in enumerate(img.shape.as_list())]


def _sample_coords(lo: Any, hi: Any, size: Any, n: int) -> tuple[Any, Any]:
    """Sample positions `[N, n]` (float32 pixel coords) along one axis, and their in-image mask.

    Positions outside `[0, size-1]` are replaced by 0 so that every gather index is in range;
    the mask later turns those samples into `extrapolation_value`.
    """
    import tensorflow as tf

    last = tf.cast(size - 1, tf.float32)
    if n > 1:
        scale = (hi - lo) * last / float(n - 1)  # [N]
        steps = tf.range(n, dtype=tf.float32)  # [n]
        pos = lo[:, None] * last + steps[None, :] * scale[:, None]
    else:
        pos = (0.5 * (lo + hi) * last)[:, None]
    valid = tf.logical_and(pos >= 0.0, pos <= last)
    return tf.where(valid, pos, 0.0), valid


def _round_half_up(x: Any) -> Any:
    """roundf for x >= 0 (TFLite ROUND is half-to-even, TensorFlow's kernel is half-away)."""
    import tensorflow as tf

    base = tf.floor(x)
    return base + tf.cast(x - base >= 0.5, tf.float32)


@rule(
    tf_ops=("CropAndResize",),
    codes=("FLEX_OP", "CONVERTER_ERROR", "UNRESOLVED_CUSTOM_OP"),
    emits=("GATHER", "FLOOR", "CEIL", "MUL", "ADD", "SUB", "CAST", "RESHAPE", "STRIDED_SLICE",
           "GREATER_EQUAL", "LESS_EQUAL", "LOGICAL_AND", "SELECT_V2"),
    patches=("tensorflow.python.ops.gen_image_ops.crop_and_resize",),
)
def crop_and_resize(original, image, boxes, box_ind, crop_size, method="bilinear",
                    extrapolation_value=0, name=None):
    """Bilinear/nearest crop-and-resize from GATHER + arithmetic; same values as TF's CPU kernel.

    Covers every caller of the raw op (`tf.image.crop_and_resize`, `tf.compat.v1...`). Follows the
    kernel's sampling formula exactly: normalized boxes `[N, (y1, x1, y2, x2)]` mapped with
    `size - 1`, crop size 1 samples the box centre, flipped boxes (y1 > y2) give flipped crops,
    samples outside the image give `extrapolation_value`, nearest rounds half away from zero.
    Output is float32 `[N, crop_h, crop_w, depth]` like the op. Needs a static `crop_size`
    (otherwise the original op is kept, with a warning); box indices must be in `[0, batch)` as
    TF requires (TF raises, this rule clamps). Differences are float rounding only (< 1e-5).
    """
    import tensorflow as tf

    size = tf.get_static_value(crop_size)
    method = method.decode() if isinstance(method, bytes) else method
    if size is None or method not in ("bilinear", "nearest"):
        warnings.warn(f"crop_and_resize rule: needs a static crop_size and bilinear/nearest "
                      f"(got crop_size={crop_size!r}, method={method!r}); keeping CropAndResize",
                      RuleNotApplied, stacklevel=2)
        return original(image, boxes, box_ind, crop_size, method=method,
                        extrapolation_value=extrapolation_value, name=name)
    with tf.name_scope(name or "crop_and_resize_builtin"):
        return sample_crops(image, boxes, box_ind, int(size[0]), int(size[1]), method,
                            extrapolation_value)
