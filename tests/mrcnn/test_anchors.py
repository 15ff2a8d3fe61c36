import numpy as np

from mrcnn import get_config
from mrcnn.anchors import anchor_count, generate_anchors, generate_pyramid_anchors


def test_single_level_known_boxes():
    # 2x2 feature map, stride 4, scale 8, ratios 0.5 / 1 / 2 (width / height).
    a = generate_anchors(8, [0.5, 1, 2], (2, 2), 4, 1)
    assert a.shape == (2 * 2 * 3, 4)
    s2 = np.sqrt(2.0)
    # First cell (centre 0, 0): ratio 0.5 -> h = 8*sqrt2, w = 8/sqrt2.
    np.testing.assert_allclose(a[0], [-4 * s2, -2 * s2, 4 * s2, 2 * s2])
    np.testing.assert_allclose(a[1], [-4, -4, 4, 4])
    np.testing.assert_allclose(a[2], [-2 * s2, -4 * s2, 2 * s2, 4 * s2])
    # Order: row, column, ratio -> anchor 3 is cell (0, 1), centre (0, 4).
    np.testing.assert_allclose(a[4], [-4, 0, 4, 8])
    # Cell (1, 0) is anchors 6..8, centre (4, 0).
    np.testing.assert_allclose(a[7], [0, -4, 8, 4])


def test_centers_sizes_and_anchor_stride():
    a = generate_anchors(16, [1], (4, 6), 8, 2)
    cy = (a[:, 0] + a[:, 2]) / 2
    cx = (a[:, 1] + a[:, 3]) / 2
    assert a.shape == (2 * 3, 4)
    np.testing.assert_allclose(cy, [0, 0, 0, 16, 16, 16])
    np.testing.assert_allclose(cx, [0, 16, 32, 0, 16, 32])
    np.testing.assert_allclose(a[:, 2] - a[:, 0], 16)
    np.testing.assert_allclose(a[:, 3] - a[:, 1], 16)


def test_pyramid_counts_and_level_order():
    shapes = [[4, 4], [2, 2]]
    a = generate_pyramid_anchors((8, 16), [0.5, 1, 2], shapes, [4, 8], 1)
    assert a.shape == ((16 + 4) * 3, 4)
    sizes = np.sqrt((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]))
    np.testing.assert_allclose(sizes[:48], 8)
    np.testing.assert_allclose(sizes[48:], 16)


def test_small_config_anchor_count():
    cfg = get_config("small")
    assert anchor_count(cfg) == (64 * 64 + 32 * 32 + 16 * 16 + 8 * 8 + 4 * 4) * 3 == 16368
