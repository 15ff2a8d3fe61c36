"""Samples: user functions (one array per sample for single-input models), validation against
the pinned signature with one-line errors, round trip through the worker's .npz."""

import numpy as np
import pytest

from opaudit import samples
from opaudit.errors import UsageError

SIG = [{"name": "image", "shape": [1, 8, 8, 3], "dtype": "float32"},
       {"name": "count", "shape": [1], "dtype": "int32"}]


def test_single_input_samples_may_be_bare_arrays(tmp_path):
    f = tmp_path / "s.py"
    f.write_text("import numpy as np\n"
                 "def bare():\n    return [np.zeros((1, 4), np.float64) for _ in range(2)]\n"
                 "def listed():\n    return [[np.zeros((1, 4))], [np.ones((1, 4))]]\n")
    for fn in ("bare", "listed"):
        data = samples.from_function(f"{f}:{fn}", n_inputs=1)
        assert len(data) == 2 and all(len(s) == 1 and s[0].shape == (1, 4) for s in data)
    sig = [{"name": "x", "shape": [1, 4], "dtype": "float32"}]
    [[a], _] = samples.validate(data, sig)
    assert a.dtype == np.float32
    with pytest.raises(UsageError, match="no function 'nope'"):
        samples.from_function(f"{f}:nope", 1)


def test_validate_names_sample_input_and_shapes():
    good = [np.zeros((1, 8, 8, 3), np.float32), np.array([3], np.int64)]
    out = samples.validate([good, good], SIG)
    assert out[1][1].dtype == np.int32
    bad = [np.zeros((1, 8, 8), np.float32), np.array([3], np.int32)]
    with pytest.raises(UsageError) as info:
        samples.validate([good, bad], SIG)
    assert str(info.value) == ("sample 1, input 'image': shape (1, 8, 8) dtype float32, "
                               "expected (1, 8, 8, 3) float32")
    with pytest.raises(UsageError, match="sample 0: 1 array"):
        samples.validate([[good[0]]], SIG)
    with pytest.raises(UsageError, match="input 'count'.*expected \\(1,\\) int32"):
        samples.validate([[good[0], np.array([2 ** 40])]], SIG)
    with pytest.raises(UsageError, match="input 'count'"):
        samples.validate([[good[0], np.array([0.5], np.float32)]], SIG)


def test_save_load_round_trip(tmp_path):
    data = samples.random_samples(SIG, n=3)
    samples.save(tmp_path / "s.npz", data)
    back = samples.load(tmp_path / "s.npz")
    assert len(back) == 3
    for a, b in zip(data, back):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
