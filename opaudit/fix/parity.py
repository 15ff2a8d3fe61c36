"""Compare Keras and TFLite outputs (pure numpy; no TensorFlow import).

Kinds of outputs and their bars (float32 models):

* ``dense``: ``max_abs = max|k - t|`` and ``max_rel = max_abs / max(max|k|, TINY)`` with
  ``TINY = 1e-6`` (one scale per output, so near-zero elements do not blow the ratio up);
  passes when ``max_rel <= bar["rel"]`` (1e-4).
* ``detections``: ``[B, N, (y1, x1, y2, x2, class_id, score)]``; all-zero rows are padding and
  ignored. Rows are matched as sets, order-insensitive: same class id, every box coordinate
  within ``bar["box"] * max(1, max|box|)`` (normalized boxes: 1e-4 absolute) and score within
  ``bar["score"]``. Passes when both sides have the same rows and every row matches.
* ``rois``: ``[B, N, (y1, x1, y2, x2)]`` region proposals (outputs named *roi*/*proposal*):
  matched row by row as a set within the box bar (NMS/top-k may order tied scores differently);
  ``reordered`` counts rows whose position differs, ``unmatched_rows`` rows found on one side
  only. Passes when at most ``bar["roi_rows"]`` (0.5 %) of the rows are unmatched: proposals
  are an intermediate output, and NMS/top-k decisions flip on near-ties under float32 noise
  (measured on mrcnn coco: 1 of 3000 proposals, with rpn_class within 1.4e-5 and all 92 final
  detections identical). Dense outputs ``[B, N, ...]`` with the same ``B, N`` (per-ROI heads such
  as ``mrcnn_class``) are then compared on the matched rows only, TFLite rows in matched order.
* ``masks``: ``[B, N, h, w, num_classes]`` per-detection masks; for every matched detection pair
  the mask of its class is thresholded at 0.5 and compared by IoU (two empty masks: IoU 1);
  passes when ``min_iou >= bar["mask_iou"]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

TINY = 1e-6
BAR = {"rel": 1e-4, "box": 1e-4, "score": 1e-4, "mask_iou": 0.99, "roi_rows": 0.005}


def compare_dense(name: str, k: np.ndarray, t: np.ndarray, bar: dict = BAR) -> dict[str, Any]:
    k = np.asarray(k, np.float64)
    t = np.asarray(t, np.float64)
    if k.shape != t.shape:
        return {"name": name, "kind": "dense", "shape": list(k.shape), "tflite_shape": list(t.shape),
                "passed": False, "why": "shape differs"}
    finite = bool(np.isfinite(t).all() == np.isfinite(k).all())
    diff = np.abs(np.nan_to_num(k) - np.nan_to_num(t))
    max_abs = float(diff.max()) if diff.size else 0.0
    scale = max(float(np.abs(np.nan_to_num(k)).max()) if k.size else 0.0, TINY)
    max_rel = max_abs / scale
    return {"name": name, "kind": "dense", "shape": list(k.shape), "max_abs": max_abs,
            "max_rel": max_rel, "passed": bool(finite and max_rel <= bar["rel"])}


def _rows(d: np.ndarray) -> np.ndarray:
    d = np.asarray(d, np.float64).reshape(-1, 6)
    return d[np.abs(d).sum(axis=1) > 0]


def match_detections(k: np.ndarray, t: np.ndarray, bar: dict = BAR) -> tuple[list[tuple[int, int]], dict]:
    """Match detection rows of one image, order-insensitive.

    ``k``/``t``: ``[N, (y1, x1, y2, x2, class_id, score)]`` (padding rows allowed). Returns
    ``(pairs, stats)`` where ``pairs`` are (row in k, row in t) indices into the *unpadded*
    arrays (padding rows must be at the end, as detectors emit them) and ``stats`` has
    ``keras``, ``tflite``, ``matched``, ``max_box_err``, ``max_score_err``, ``unmatched``.
    """
    kr, tr = _rows(k), _rows(t)
    box_tol = bar["box"] * max(1.0, float(np.abs(kr[:, :4]).max()) if len(kr) else 1.0)
    used: set[int] = set()
    pairs: list[tuple[int, int]] = []
    max_box = max_score = 0.0
    unmatched = []
    for i in np.argsort(-kr[:, 5], kind="stable") if len(kr) else []:
        best, best_err = None, None
        for j in range(len(tr)):
            if j in used or round(tr[j, 4]) != round(kr[i, 4]):
                continue
            be = float(np.abs(tr[j, :4] - kr[i, :4]).max())
            se = float(abs(tr[j, 5] - kr[i, 5]))
            if be <= box_tol and se <= bar["score"] and (best_err is None or be + se < best_err):
                best, best_err = j, be + se
        if best is None:
            unmatched.append([round(float(v), 5) for v in kr[i]])
            continue
        used.add(best)
        pairs.append((int(i), best))
        max_box = max(max_box, float(np.abs(tr[best, :4] - kr[i, :4]).max()))
        max_score = max(max_score, float(abs(tr[best, 5] - kr[i, 5])))
    extra = [[round(float(v), 5) for v in tr[j]] for j in range(len(tr)) if j not in used]
    stats = {"keras": len(kr), "tflite": len(tr), "matched": len(pairs), "max_box_err": max_box,
             "max_score_err": max_score, "unmatched": unmatched[:5], "unexpected": extra[:5]}
    return pairs, stats


def compare_detections(name: str, k: np.ndarray, t: np.ndarray, bar: dict = BAR):
    """Batched ``[B, N, 6]`` detections -> (result dict, per-image pairs)."""
    k = np.asarray(k).reshape(-1, np.asarray(k).shape[-2], 6)
    t = np.asarray(t).reshape(-1, np.asarray(t).shape[-2], 6)
    total = {"keras": 0, "tflite": 0, "matched": 0, "max_box_err": 0.0, "max_score_err": 0.0,
             "unmatched": [], "unexpected": []}
    all_pairs = []
    for b in range(min(len(k), len(t))):
        pairs, s = match_detections(k[b], t[b], bar)
        all_pairs.append(pairs)
        for key in ("keras", "tflite", "matched"):
            total[key] += s[key]
        for key in ("max_box_err", "max_score_err"):
            total[key] = max(total[key], s[key])
        total["unmatched"] += s["unmatched"]
        total["unexpected"] += s["unexpected"]
    passed = len(k) == len(t) and total["keras"] == total["tflite"] == total["matched"]
    return {"name": name, "kind": "detections", **total, "passed": bool(passed)}, all_pairs


def mask_iou(a: np.ndarray, b: np.ndarray, threshold: float = 0.5) -> float:
    """IoU of two ``[h, w]`` soft masks thresholded at ``threshold`` (both empty -> 1.0)."""
    a, b = np.asarray(a) >= threshold, np.asarray(b) >= threshold
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def compare_masks(name, k, t, kdet, pairs, bar: dict = BAR) -> dict[str, Any]:
    """Masks ``[B, N, h, w, C]`` of matched detections (``pairs`` from `compare_detections`)."""
    ious = []
    for b, img_pairs in enumerate(pairs):
        for i, j in img_pairs:
            c = int(round(float(np.asarray(kdet)[b, i, 4])))
            ious.append(mask_iou(np.asarray(k)[b, i, :, :, c], np.asarray(t)[b, j, :, :, c]))
    min_iou = min(ious) if ious else None
    return {"name": name, "kind": "masks", "compared": len(ious), "min_iou": min_iou,
            "passed": bool(min_iou is None or min_iou >= bar["mask_iou"])}


def compare_rois(name: str, k: np.ndarray, t: np.ndarray, bar: dict = BAR):
    """``[B, N, 4]`` proposals as sets -> (result, perms); ``perms[b][i]`` is the TFLite row matching
    Keras row ``i`` (None when unmatched)."""
    k, t = np.asarray(k, np.float64), np.asarray(t, np.float64)
    if k.shape != t.shape:
        return {"name": name, "kind": "rois", "passed": False, "why": "shape differs"}, None
    tol = bar["box"] * max(1.0, float(np.abs(k).max()) if k.size else 1.0)
    perms, unmatched, reordered, max_err = [], 0, 0, 0.0  # unmatched: rows (int)
    for b in range(k.shape[0]):
        used: set[int] = set()
        perm: list[int | None] = []
        for i in range(k.shape[1]):
            err = np.abs(t[b] - k[b, i]).max(axis=1)
            if i not in used and err[i] <= tol:
                j = i  # same position first (keeps identical padding rows in place)
            else:
                free = [j for j in np.argsort(err, kind="stable") if j not in used and err[j] <= tol]
                j = int(free[0]) if free else None
            perm.append(None if j is None else int(j))
            if j is None:
                unmatched += 1
                continue
            used.add(int(j))
            reordered += int(j != i)
            max_err = max(max_err, float(err[j]))
        perms.append(perm)
    rows = int(k.shape[0] * k.shape[1])
    passed = unmatched <= bar["roi_rows"] * rows
    return {"name": name, "kind": "rois", "shape": list(k.shape), "rows": rows,
            "unmatched_rows": unmatched, "reordered": reordered, "max_box_err": max_err,
            "passed": bool(passed)}, (perms if passed else None)


def matched_rows(k: np.ndarray, t: np.ndarray, perms) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``[M, ...]`` of per-ROI outputs ``k``/``t`` ``[B, N, ...]`` for matched ROI pairs."""
    ki = [(b, i) for b, perm in enumerate(perms) for i, j in enumerate(perm) if j is not None]
    kk = np.stack([np.asarray(k)[b, i] for b, i in ki]) if ki else np.zeros((0,))
    tt = np.stack([np.asarray(t)[b, perms[b][i]] for b, i in ki]) if ki else np.zeros((0,))
    return kk, tt


def output_kind(name: str, shape: tuple[int, ...]) -> str:
    """``detections`` for ``[B, N, 6]`` outputs named *detection*, ``masks`` for rank-5 *mask*,
    ``rois`` for ``[B, N, 4]`` outputs named *roi* / *proposal*."""
    low = name.lower()
    if ("roi" in low or "proposal" in low) and len(shape) == 3 and shape[-1] == 4:
        return "rois"
    if "detection" in low and len(shape) == 3 and shape[-1] == 6:
        return "detections"
    if "mask" in low and len(shape) == 5:
        return "masks"
    return "dense"


def compare_outputs(keras_out: dict[str, np.ndarray], tfl_out: dict[str, np.ndarray],
                    bar: dict = BAR) -> list[dict[str, Any]]:
    """Compare one sample's outputs, matched by name. Masks need a detections output."""
    results, det_name, pairs, perms, roi_shape = [], None, None, None, None
    for name, k in keras_out.items():
        if output_kind(name, np.shape(k)) == "detections" and name in tfl_out:
            r, pairs = compare_detections(name, k, tfl_out[name], bar)
            det_name = name
            results.append(r)
        if output_kind(name, np.shape(k)) == "rois" and name in tfl_out and perms is None:
            r, perms = compare_rois(name, k, tfl_out[name], bar)
            roi_shape = np.shape(k)[:2]
            results.append(r)
    for name, k in keras_out.items():
        if name not in tfl_out:
            results.append({"name": name, "kind": "missing", "passed": False,
                            "why": "no TFLite output matches this name"})
            continue
        kind = output_kind(name, np.shape(k))
        if kind in ("detections", "rois") and any(r["name"] == name for r in results):
            continue
        t = tfl_out[name]
        if perms is not None and kind == "dense" and np.ndim(k) >= 2 and np.shape(k)[:2] == roi_shape \
                and np.shape(t) == np.shape(k):
            kk, tt = matched_rows(k, t, perms)
            r = compare_dense(name, kk, tt, bar)
            results.append({**r, "shape": list(np.shape(k)), "aligned_to_rois": True, "rows_compared": len(kk)})
            continue
        if kind == "masks" and det_name is not None and np.shape(k) == np.shape(tfl_out[name]):
            results.append(compare_masks(name, k, tfl_out[name], keras_out[det_name], pairs, bar))
        else:
            results.append(compare_dense(name, k, tfl_out[name], bar))
    return results


SUMMED = ("keras", "tflite", "matched", "compared", "reordered", "unmatched_rows", "rows", "rows_compared")


def merge_samples(per_sample: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One entry per output over all samples: counts summed (``keras``, ``matched``, ``compared``,
    ...), errors maxed, ``min_iou`` minimized; ``passed`` only if every sample passed, and
    ``sample`` is the first failing sample (else the one with the largest error)."""
    merged: dict[str, dict[str, Any]] = {}
    for s, results in enumerate(per_sample):
        for r in results:
            old = merged.get(r["name"])
            if old is None:
                merged[r["name"]] = {**r, "sample": s}
                continue
            new = {**old} if not _worse(r, old) else {**r, "sample": s}
            for key in SUMMED:
                if isinstance(r.get(key), int) and isinstance(old.get(key), int):
                    new[key] = old[key] + r[key]
            for key in ("max_abs", "max_rel", "max_box_err", "max_score_err"):
                if r.get(key) is not None and old.get(key) is not None:
                    new[key] = max(old[key], r[key])
            ious = [v for v in (old.get("min_iou"), r.get("min_iou")) if v is not None]
            if "min_iou" in new:
                new["min_iou"] = min(ious) if ious else None
            new["passed"] = bool(old["passed"] and r["passed"])
            merged[r["name"]] = new
    return list(merged.values())


def _worse(r: dict, old: dict) -> bool:
    if r["passed"] != old["passed"]:
        return not r["passed"]
    if not old["passed"]:
        return False  # keep the first failing sample
    for key in ("max_rel", "max_box_err", "max_score_err"):
        if r.get(key) is not None and old.get(key) is not None:
            return r[key] > old[key]
    return False
