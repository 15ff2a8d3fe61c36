"""Parity matching on hand-made arrays (no TensorFlow)."""

import numpy as np

from opaudit.fix import parity


def _dets():
    d = np.zeros((1, 6, 6), np.float32)
    d[0, 0] = [0.1, 0.1, 0.5, 0.5, 1, 0.9]
    d[0, 1] = [0.2, 0.3, 0.6, 0.7, 2, 0.8]
    d[0, 2] = [0.0, 0.0, 0.4, 0.4, 1, 0.7]
    return d


def test_permuted_detections_match():
    k = _dets()
    t = k.copy()
    t[0, :3] = k[0, [2, 0, 1]]
    t[0, 0, 5] += 5e-5  # within the score bar
    r, pairs = parity.compare_detections("detections", k, t)
    assert r["passed"] and r["matched"] == 3 and r["keras"] == 3
    assert sorted(pairs[0]) == [(0, 1), (1, 2), (2, 0)]


def test_shifted_box_fails():
    k = _dets()
    t = k.copy()
    t[0, 1, 2] += 1e-3
    r, _ = parity.compare_detections("detections", k, t)
    assert not r["passed"] and r["matched"] == 2 and len(r["unmatched"]) == 1


def test_class_change_and_extra_row_fail():
    k = _dets()
    t = k.copy()
    t[0, 0, 4] = 3
    assert not parity.compare_detections("detections", k, t)[0]["passed"]
    t = k.copy()
    t[0, 3] = [0.5, 0.5, 0.9, 0.9, 1, 0.6]  # padding row replaced by a real one
    r, _ = parity.compare_detections("detections", k, t)
    assert not r["passed"] and r["tflite"] == 4


def test_dense_relative_error():
    k = np.array([[1000.0, -2.0, 0.0]])
    assert parity.compare_dense("x", k, k + 0.05)["passed"]  # 5e-5 relative to max|k|
    r = parity.compare_dense("x", k, k + np.array([[0, 0, 0.2]]))
    assert not r["passed"] and abs(r["max_rel"] - 2e-4) < 1e-9
    assert not parity.compare_dense("x", k, k[:, :2])["passed"]
    z = np.zeros((2, 2))
    assert parity.compare_dense("z", z, z)["passed"]
    assert not parity.compare_dense("z", z, z + 1e-3)["passed"]


def test_masks_by_iou_on_matched_pairs():
    k = _dets()
    t = k.copy()
    t[0, :3] = k[0, [1, 2, 0]]
    km = np.zeros((1, 6, 4, 4, 3), np.float32)
    km[0, 0, :2, :2, 1] = 0.9  # detection 0 (class 1) mask
    tm = np.zeros_like(km)
    tm[0, 2, :2, :2, 1] = 0.9  # same mask at the permuted row
    out = parity.compare_outputs({"detections": k, "mrcnn_mask": km}, {"detections": t, "mrcnn_mask": tm})
    masks = next(r for r in out if r["kind"] == "masks")
    assert masks["passed"] and masks["compared"] == 3 and masks["min_iou"] == 1.0
    tm[0, 2, 0, 0, 1] = 0.1  # one pixel of 4 lost -> IoU 0.75
    out = parity.compare_outputs({"detections": k, "mrcnn_mask": km}, {"detections": t, "mrcnn_mask": tm})
    masks = next(r for r in out if r["kind"] == "masks")
    assert not masks["passed"] and masks["min_iou"] == 0.75


def test_missing_output_fails_and_merge_keeps_worst():
    out = parity.compare_outputs({"a": np.ones(3)}, {"b": np.ones(3)})
    assert out[0]["kind"] == "missing" and not out[0]["passed"]
    s1 = parity.compare_outputs({"a": np.ones(3)}, {"a": np.ones(3)})
    s2 = parity.compare_outputs({"a": np.ones(3)}, {"a": np.ones(3) * 2})
    merged = parity.merge_samples([s1, s2])
    assert not merged[0]["passed"] and merged[0]["sample"] == 1


def test_rois_matched_as_sets_and_per_roi_outputs_aligned():
    rois = np.array([[[0.1, 0.1, 0.3, 0.3], [0.2, 0.2, 0.5, 0.5], [0.2, 0.2, 0.5, 0.6], [0, 0, 0, 0]]])
    cls = np.array([[[0.9, 0.1], [0.2, 0.8], [0.5, 0.5], [1.0, 0.0]]])
    perm = [0, 2, 1, 3]  # TFLite ordered two tied proposals the other way round
    out = parity.compare_outputs({"ROI": rois, "mrcnn_class": cls}, {"ROI": rois[:, perm], "mrcnn_class": cls[:, perm]})
    r = {o["name"]: o for o in out}
    assert r["ROI"]["kind"] == "rois" and r["ROI"]["passed"] and r["ROI"]["reordered"] == 2
    assert r["mrcnn_class"]["passed"] and r["mrcnn_class"]["aligned_to_rois"]
    moved = rois[:, perm].copy()
    moved[0, 1, 0] += 0.01  # a proposal that exists only on one side (1 of 4 rows > 0.5 %)
    out = parity.compare_outputs({"ROI": rois, "mrcnn_class": cls}, {"ROI": moved, "mrcnn_class": cls[:, perm]})
    r = {o["name"]: o for o in out}
    assert not r["ROI"]["passed"] and r["ROI"]["unmatched_rows"] == 1
    assert not r["mrcnn_class"]["passed"]  # compared in plain order once the ROI sets differ


def test_merge_sums_counts_over_samples():
    k = _dets()
    empty = np.zeros_like(k)
    s0 = parity.compare_outputs({"detections": empty}, {"detections": empty})
    s1 = parity.compare_outputs({"detections": k}, {"detections": k})
    [m] = parity.merge_samples([s0, s1])
    assert m["passed"] and m["keras"] == 3 and m["matched"] == 3


def test_one_flipped_proposal_in_a_thousand_is_tolerated_and_heads_compared_on_matched_rows():
    rng = np.random.default_rng(0)
    rois = np.sort(rng.random((1, 1000, 4)), axis=-1)
    cls = rng.random((1, 1000, 3))
    t_rois, t_cls = rois.copy(), cls.copy()
    t_rois[0, 500:] = rois[0, [*range(501, 1000), 0]]  # one proposal replaced, the rest shifted up
    t_rois[0, 999] = [0.5, 0.5, 0.6, 0.6]
    t_cls[0, 500:] = cls[0, [*range(501, 1000), 0]]
    t_cls[0, 999] = 0.0
    r = {o["name"]: o for o in parity.compare_outputs({"ROI": rois, "mrcnn_class": cls},
                                                       {"ROI": t_rois, "mrcnn_class": t_cls})}
    assert r["ROI"]["passed"] and r["ROI"]["unmatched_rows"] == 1 and r["ROI"]["reordered"] == 499
    assert r["mrcnn_class"]["passed"] and r["mrcnn_class"]["rows_compared"] == 999
    t_cls[0, 3, 1] += 0.01  # a real difference on a matched row still fails
    r = {o["name"]: o for o in parity.compare_outputs({"ROI": rois, "mrcnn_class": cls},
                                                       {"ROI": t_rois, "mrcnn_class": t_cls})}
    assert not r["mrcnn_class"]["passed"]
