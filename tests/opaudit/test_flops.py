"""FLOP counts against hand-computed values on a small converted model."""

from opaudit.flatbuf.model import load
from opaudit.flops import count_flops


def test_flops_of_clean_model(models):
    # clean: Conv2D(4, 3x3, valid) on 16x16x3 -> 14x14x4; GAP; Dense(3) from 4 features
    total, per = count_flops(load(str(models["clean"])))
    conv = 2 * 14 * 14 * 4 * 3 * 3 * 3
    fc = 2 * 3 * 4
    assert per == {"CONV_2D": conv, "FULLY_CONNECTED": fc}
    assert total == conv + fc


def test_flops_of_unrolled_time_distributed(models):
    # td: 12 steps of Conv2D(16, 7x7, valid) on 7x7x8 -> 1x1x16
    total, per = count_flops(load(str(models["td"])))
    assert per["CONV_2D"] == 12 * 2 * 16 * 7 * 7 * 8
