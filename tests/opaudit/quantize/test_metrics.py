"""Task metrics (`opaudit.quantize.metrics`) on hand-made outputs with known answers."""

import math

import numpy as np
import pytest

from opaudit.errors import UsageError
from opaudit.quantize.metrics import (
    box_iou,
    detection_metrics,
    evaluate,
    match_by_iou,
    meets_bar,
)
from opaudit.quantize.modes import MODES, parse_modes


def _det(rows, n=5):
    d = np.zeros((1, n, 6), np.float32)
    for i, r in enumerate(rows):
        d[0, i] = r
    return d


def test_box_iou_known_values():
    a = np.array([[0, 0, 1, 1], [0, 0, 2, 2]], float)
    b = np.array([[0, 0, 1, 1], [0.5, 0.5, 1.5, 1.5], [5, 5, 6, 6]], float)
    iou = box_iou(a, b)
    assert iou[0, 0] == pytest.approx(1.0)
    assert iou[0, 1] == pytest.approx(0.25 / 1.75)
    assert iou[0, 2] == 0.0
    assert iou[1, 0] == pytest.approx(0.25)


def test_match_needs_same_class_and_iou():
    k = np.array([[0, 0, 1, 1, 1, 0.9], [0, 0, 1, 1, 2, 0.8]], float)
    t = np.array([[0, 0, 1, 1, 2, 0.7], [0, 0, 0.5, 1, 1, 0.9]], float)  # class 1 box: IoU 0.5 < 0.8
    pairs = match_by_iou(k, t)
    assert [(i, j) for i, j, _ in pairs] == [(1, 0)]


def test_agreement_counts_missing_and_extra():
    k = _det([[0.1, 0.1, 0.5, 0.5, 1, 0.9], [0.5, 0.5, 0.9, 0.9, 2, 0.8]])
    # one kept (slightly moved, IoU > 0.8), one missing, one extra
    t = _det([[0.1, 0.1, 0.51, 0.5, 1, 0.85], [0.0, 0.0, 0.2, 0.2, 3, 0.7]])
    det, masks = detection_metrics([k], [t])
    assert (det["keras"], det["tflite"], det["matched"]) == (2, 2, 1)
    assert det["agreement"] == pytest.approx(50.0)
    assert det["score_err_max"] == pytest.approx(0.05, abs=1e-6)
    assert masks is None


def test_masks_of_matched_pairs_use_the_keras_class():
    k = _det([[0.1, 0.1, 0.5, 0.5, 1, 0.9]])
    t = _det([[0.1, 0.1, 0.5, 0.5, 1, 0.9]])
    km = np.zeros((1, 5, 4, 4, 3), np.float32)
    tm = np.zeros_like(km)
    km[0, 0, :2, :, 1] = 1.0  # 8 pixels
    tm[0, 0, :1, :, 1] = 1.0  # 4 of them
    tm[0, 0, :, :, 2] = 1.0  # another class: ignored
    _, masks = detection_metrics([k], [t], [km], [tm])
    assert masks == {"compared": 1, "iou_mean": pytest.approx(0.5), "iou_min": pytest.approx(0.5)}


def test_dense_snr_and_cosine():
    k = {"y": np.array([3.0, 4.0])}
    t = {"y": np.array([3.0, 4.0 + 0.05])}
    d = evaluate([k], [t])["dense"][0]
    assert d["snr_db"] == pytest.approx(10 * math.log10(25 / 0.0025))
    assert 0.9999 < d["cosine"] < 1.0
    same = evaluate([k], [k])["dense"][0]
    assert same["snr_db"] == 300.0 and same["cosine"] == pytest.approx(1.0)


def test_detector_outputs_following_proposals_are_skipped():
    k = {"mrcnn_detection": _det([[0.1, 0.1, 0.5, 0.5, 1, 0.9]]), "ROI": np.zeros((1, 8, 4)),
         "mrcnn_class": np.zeros((1, 8, 3)), "rpn_class": np.ones((1, 30, 2))}
    out = evaluate([k], [k])
    assert out["detections"]["agreement"] == 100.0
    assert {s["name"] for s in out["skipped"]} == {"ROI", "mrcnn_class"}
    assert [d["name"] for d in out["dense"]] == ["rpn_class"]


def test_bar_is_relative_to_the_float_tflite():
    bar = MODES["dynamic"].bar
    base = {"detections": {"agreement": 80.0, "keras": 10}, "masks": {"iou_mean": 0.9}}
    ok = {"detections": {"agreement": 66.0, "keras": 10}, "masks": {"iou_mean": 0.85}}
    bad = {"detections": {"agreement": 64.0, "keras": 10}, "masks": {"iou_mean": 0.79}}
    assert meets_bar(ok, base, bar) == (True, [])
    passed, why = meets_bar(bad, base, bar)
    assert not passed and len(why) == 2 and "64.0 %" in why[0]
    none = {"detections": {"agreement": None, "keras": 0}}
    assert meets_bar(none, none, bar)[0] is None  # nothing to judge: no search, said so


def test_dense_bar():
    bar = MODES["fp16"].bar
    good = {"detections": None, "dense": [{"name": "y", "cosine": 0.99999, "snr_db": 45.0}]}
    low = {"detections": None, "dense": [{"name": "y", "cosine": 0.99999, "snr_db": 25.0}]}
    assert meets_bar(good, good, bar)[0] and not meets_bar(low, good, bar)[0]


def test_parse_modes():
    assert parse_modes(["fp16,dynamic", "int8", "fp16"]) == ["fp16", "dynamic", "int8"]
    assert parse_modes("none") == [] and parse_modes(None) == []
    with pytest.raises(UsageError, match="unknown mode 'int4'"):
        parse_modes("fp16,int4")


def test_unpaired_detections_are_listed_with_the_closest_candidate():
    k = _det([[0.1, 0.1, 0.5, 0.5, 1, 0.9], [0.5, 0.5, 0.9, 0.9, 2, 0.71]])
    t = _det([[0.1, 0.1, 0.5, 0.5, 1, 0.9], [0.5, 0.5, 0.8, 0.9, 2, 0.69]])  # IoU 0.75 < 0.8
    det, _ = detection_metrics([k], [t])
    assert det["matched"] == 1
    assert det["missed"] == [{"sample": 0, "image": 0, "class": 2, "score": 0.71, "box": [0.5, 0.5, 0.9, 0.9],
                              "best_iou": 0.75, "best_score": 0.69}]
    assert det["extra"][0]["score"] == 0.69 and det["extra"][0]["best_iou"] == 0.75


def test_images_filling_every_detection_row_are_counted():
    full = _det([[0.1, 0.1, 0.5, 0.5, 1, 0.9]] * 2, n=2)
    part = _det([[0.1, 0.1, 0.5, 0.5, 1, 0.9]], n=2)
    det, _ = detection_metrics([full, part], [full, part])
    assert (det["images"], det["capped"]) == (2, 1)
    quant = {"detections": {**det, "agreement": 50.0}}
    passed, why = meets_bar(quant, {"detections": det}, MODES["fp16"].bar)
    assert passed is False and "1 of 2 images fill every detection row" in why[0]
