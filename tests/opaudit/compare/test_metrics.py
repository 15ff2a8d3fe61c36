"""Pure parts of compare: metrics, tensor matching, verdicts, mechanisms (no TensorFlow)."""

import math

import numpy as np
import pytest

from opaudit.compare import boundaries, mechanisms, metrics, verdict
from opaudit.compare.metrics import Metrics
from opaudit.compare.report import LayerComparison, OutputComparison
from opaudit.compare.tflite_side import TflTensor, layers_named


def test_measure_scale_cosine_snr():
    k = np.array([[1.0, -2.0, 4.0]], np.float32)
    t = k + np.array([[0.0, 0.0, 0.004]], np.float32)
    m = metrics.measure(k, t)
    assert m.max_abs == pytest.approx(0.004, rel=1e-4)
    assert m.max_rel == pytest.approx(0.001, rel=1e-4)  # one scale per tensor: max|k| = 4
    k64, t64 = k.astype(np.float64).ravel(), t.astype(np.float64).ravel()
    assert m.cosine == pytest.approx(float(k64 @ t64 / (np.linalg.norm(k64) * np.linalg.norm(t64))), rel=1e-12)
    assert m.snr_db == pytest.approx(10 * math.log10(21.0 / float(t64[2] - k64[2]) ** 2), rel=1e-9)
    assert not m.equal(1e-4) and m.equal(1e-2)
    same = metrics.measure(k, k)
    assert same.max_rel == 0.0 and math.isinf(same.snr_db) and same.cosine == 1.0
    assert same.to_dict()["snr_db"] is None
    with pytest.raises(ValueError):
        metrics.measure(k, k[:, :2])


def test_measure_rows_and_nan():
    k = np.ones((1, 6, 3, 2), np.float32)
    t = k.copy()
    t[0, 4, 1, 0] += 0.5
    t[0, 1, 0, 1] += 1e-6  # below the bar: not a differing row
    m = metrics.measure(k, t)
    assert m.rows == [4] and m.row_count == 6
    assert metrics.measure(np.ones((2, 3)), np.ones((2, 3))).row_count is None  # not [1, N, ...]
    bad = t.copy()
    bad[0, 0, 0, 0] = np.nan
    assert not metrics.measure(k, bad).finite and not metrics.measure(k, bad).equal()


def test_worst_merges():
    a = Metrics(max_abs=1.0, max_rel=0.1, cosine=0.9, snr_db=20.0, rows=[1], row_count=4)
    b = Metrics(max_abs=0.5, max_rel=0.2, cosine=0.99, snr_db=10.0, rows=[3], row_count=4, finite=False)
    w = metrics.worst([a, None, b])
    assert (w.max_abs, w.max_rel, w.cosine, w.snr_db, w.rows, w.finite) == (1.0, 0.2, 0.9, 10.0, [1, 3], False)
    assert metrics.worst([None]) is None
    assert Metrics.from_dict(w.to_dict()) == w


def test_layers_named_fused_names():
    names = {"relu", "conv", "bn", "dense"}
    assert layers_named("m_1/relu_1/Relu;m_1/conv_1/convolution", names) == ["relu", "conv"]
    assert layers_named("StatefulPartitionedCall:0", names) == []
    assert layers_named("m_1/dense_1/MatMul;m_1/dense_1/BiasAdd", names) == ["dense"]


def test_output_keys_by_name_index_position():
    assert boundaries.output_keys({"probs": 7, "boxes": 3}, ["boxes", "probs"], [10, 11]) == {10: 3, 11: 7}
    assert boundaries.output_keys({"output_1": 7, "output_0": 3}, ["a", "b"], [10, 11]) == {10: 3, 11: 7}
    assert boundaries.output_keys({"x": 5}, ["y"], [10]) == {10: 5}


def test_match_prefers_best_value_and_is_one_to_one():
    # conv -> bn -> relu fused into one tensor named relu;conv: relu's output must take it.
    outs = [boundaries.KerasOut(1, 0, "conv", (None, 4), (1,)), boundaries.KerasOut(2, 1, "bn", (None, 4), (2,)),
            boundaries.KerasOut(3, 2, "relu", (None, 4), (3,)), boundaries.KerasOut(4, 3, "dense", (None, 2))]
    tensors = [TflTensor(20, "m/relu_1/Relu;m/conv_1/convolution", (1, 4), "float32", 0, ["relu", "conv"]),
               TflTensor(21, "m/dense_1/MatMul", (1, 2), "float32", 1, ["dense"])]
    err = {(3, 20): 1e-7, (1, 20): 0.8, (2, 20): 0.3, (4, 21): 0.5}
    by_order = {o.order: [o] for o in outs}

    def match(fixed):
        pairs = boundaries.candidates(tensors, outs, by_order, fixed)
        return boundaries.assign([(err[p], *p) for p in pairs], fixed)

    assert set(boundaries.candidates(tensors, outs, by_order, {})) == set(err)  # named + consumers
    assert match({}) == {3: 20, 4: 21}  # a divergent dense still maps: best candidate of its own layer
    assert match({4: 21}) == {4: 21, 3: 20}
    assert not boundaries.shapes_agree((None, 4), (1, 5)) and boundaries.shapes_agree((None, 4), (1, 4))


def _layer(name, order, status, prop=None, iso=None, inp=0.0, **kw):
    m = (lambda r: None if r is None else Metrics(max_abs=r, max_rel=r))
    c = LayerComparison(layer=name, class_name="X", order=order, propagated=m(prop), isolated=m(iso),
                        input_rel=inp, **kw)
    c.status = status
    return c


def test_layer_status():
    tiny, big = Metrics(max_rel=1e-7), Metrics(max_rel=0.2)
    assert verdict.layer_status(None, None, None) == "no-tensor"
    assert verdict.layer_status(tiny, tiny, None) == "equal"
    assert verdict.layer_status(big, tiny, None) == "differs"
    assert verdict.layer_status(big, big, Metrics(max_rel=1e-6)) == "divergent"
    assert verdict.layer_status(big, big, Metrics(max_rel=0.1)) == "sensitive"
    assert verdict.layer_status(big, big, None) == "divergent"


def test_decide_divergent_names_the_earliest():
    layers = [_layer("a", 0, "equal", 1e-7, 1e-7), _layer("b", 1, "divergent", 0.3, 0.3, rules=["r"]),
              _layer("c", 2, "divergent", 0.5, 0.2, inp=0.3)]
    out = [OutputComparison("y", "t", Metrics(max_rel=0.5))]
    v, first, ex, summary = verdict.decide(layers, out)
    assert v == "divergent" and first["layer"] == "b" and first["rules"] == ["r"] and not ex
    assert "rule r" in summary


def test_decide_equal_and_ill_conditioned():
    ok = [OutputComparison("y", "t", Metrics(max_rel=1e-7))]
    layers = [_layer("a", 0, "equal", 1e-7, 1e-7), _layer("crop", 1, "differs", 0.9, 0.0, inp=3e-7),
              _layer("head", 2, "differs", 0.4, 1e-7, inp=0.9)]
    assert verdict.decide(layers[:1], ok)[0] == "equal"
    layers[1].keras_shift = Metrics(max_rel=0.9)
    bad = [OutputComparison("y", "t", Metrics(max_rel=0.4))]
    v, first, ex, summary = verdict.decide(layers, bad)
    assert v == "ill-conditioned" and first is None
    assert [e.layer for e in ex] == ["crop"]  # head only inherits crop's difference
    assert "0.9" in ex[0].why and "crop" in summary


def test_noise_everywhere_is_not_divergent():
    """Every layer a little off on identical inputs (below the bar), errors accumulating."""
    layers = [_layer(f"l{i}", i, "equal" if i < 3 else "differs", 3e-5 * (i + 1), 5e-5, inp=3e-5 * i)
              for i in range(6)]
    v, first, ex, _ = verdict.decide(layers, [OutputComparison("y", "t", Metrics(max_rel=1.8e-4))])
    assert v == "ill-conditioned" and first is None and [e.layer for e in ex] == ["l3"]


def test_mechanisms():
    boxes = np.array([[[0.1, 0.5, 0.4, 1.0], [0.1, 0.2, 0.4, 0.9], [0.2, 0.6, 0.5, 1.0]]], np.float32)
    assert mechanisms.border_rows(boxes, [0, 1, 2]) == [0, 2]
    text = mechanisms.recognise({"GATHER"}, [np.zeros((1, 8, 8, 2)), boxes], [0, 2], 3)
    assert text.startswith("crop_and_resize at the image border: rows 0, 2")
    assert mechanisms.recognise({"GATHER"}, [boxes], [1], 3) is None
    assert "NON_MAX_SUPPRESSION_V4" in mechanisms.recognise({"NON_MAX_SUPPRESSION_V4"}, [], [], None)
