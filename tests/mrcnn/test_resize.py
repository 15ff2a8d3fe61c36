"""Resize modes and the resampling arithmetic (bitwise parity with the reference: test_reference)."""
import random

import numpy as np
import pytest

from mrcnn import resize as rs


def test_square_mode_pads_and_windows():
    img = np.full((300, 400, 3), 7, dtype=np.uint8)
    out, window, scale, padding, crop = rs.resize_image(img, min_dim=256, max_dim=256, mode="square")
    assert out.shape == (256, 256, 3) and out.dtype == np.uint8
    assert scale == pytest.approx(256 / 400)
    assert window == (32, 0, 224, 256)  # 300 * 0.64 = 192 rows, centred: 32 above, 32 below
    assert padding == [(32, 32), (0, 0), (0, 0)] and crop is None
    assert (out[:32] == 0).all() and (out[224:] == 0).all() and (out[32:224] == 7).all()


def test_square_mode_upscales_small_image_and_none_mode():
    img = np.zeros((50, 100, 3), dtype=np.uint8)
    out, window, scale, _, _ = rs.resize_image(img, min_dim=128, max_dim=256, mode="square")
    assert scale == 2.56 and out.shape == (256, 256, 3)
    assert window == (64, 0, 192, 256)
    same, window, scale, padding, _ = rs.resize_image(img, 128, 256, mode="none")
    assert same is img and window == (0, 0, 50, 100) and scale == 1


def test_pad64_scales_up_then_pads_each_side_to_a_multiple_of_64():
    img = np.full((90, 300, 3), 9, dtype=np.uint8)
    out, window, scale, padding, crop = rs.resize_image(img, min_dim=128, max_dim=64, mode="pad64")
    assert scale == 128 / 90 and crop is None  # max_dim is ignored in pad64
    assert out.shape == (128, 448, 3)  # 128 x 427: rows already a multiple, cols padded to 448
    assert padding == [(0, 0), (10, 11), (0, 0)] and window == (0, 10, 128, 437)
    with pytest.raises(ValueError, match="IMAGE_MIN_DIM % 64"):
        rs.resize_image(img, min_dim=100, mode="pad64")


def test_crop_draws_top_then_left_from_the_given_rng():
    img = np.arange(300 * 400 * 3, dtype=np.int64).reshape(300, 400, 3)
    out, window, scale, padding, crop = rs.resize_image(img, min_dim=256, mode="crop",
                                                        rng=random.Random(3))
    expect = random.Random(3)
    top, left = expect.randint(0, 300 - 256), expect.randint(0, 400 - 256)
    assert crop == (top, left, 256, 256) and window == (0, 0, 256, 256) and scale == 1
    np.testing.assert_array_equal(out, img[top:top + 256, left:left + 256])


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="IMAGE_RESIZE_MODE"):
        rs.resize_image(np.zeros((4, 4, 3)), mode="stretch")


def test_bilinear_arithmetic_by_hand():
    a = np.array([[0.0, 10.0], [20.0, 30.0]])
    np.testing.assert_array_equal(rs.resize_bilinear(a, (2, 2)), a)
    up = rs.resize_bilinear(a, (4, 4))
    # Sample rows/cols at -0.25, 0.25, 0.75, 1.25; neighbours outside the image count as 0.
    assert up[1, 1] == pytest.approx(0.75 * (0.75 * 0 + 0.25 * 10) + 0.25 * (0.75 * 20 + 0.25 * 30))
    assert up[0, 0] == pytest.approx(0.0) and up[3, 3] == pytest.approx(0.75 * 0.75 * 30)
    down = rs.resize_bilinear(np.arange(16.0).reshape(4, 4), (2, 2))
    np.testing.assert_allclose(down, [[2.5, 4.5], [10.5, 12.5]])  # centres at 0.5 and 2.5


def test_resample_clips_to_input_range_and_truncates_to_dtype():
    img = np.array([[10, 200], [30, 40]], dtype=np.uint8)
    out = rs.resample(img, (4, 4))
    assert out.dtype == np.uint8 and out.min() >= 10 and out.max() <= 200
    exact = np.clip(rs.resize_bilinear(img, (4, 4)), 10, 200)
    np.testing.assert_array_equal(out, exact.astype(np.uint8))  # truncation, not rounding
