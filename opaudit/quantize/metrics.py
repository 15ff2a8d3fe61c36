"""Task-level accuracy of a model against float Keras outputs (pure numpy; no TensorFlow).

Exact parity cannot hold for a quantized model, so it is judged on what the model is for:

* detections ``[B, N, (y1, x1, y2, x2, class_id, score)]`` (all-zero rows are padding; boxes
  in the model's own coordinates, normalized for Mask R-CNN): per image, pairs of one Keras and
  one TFLite detection with the same class and box IoU >= ``IOU_MATCH`` (0.8), taken greedily
  by IoU, highest first, each detection in at most one pair. ``agreement`` = matched /
  max(Keras detections, TFLite detections), summed over images, in percent: a missed and an
  extra detection both cost. Score error and box IoU over matched pairs; ``missed`` (Keras
  detections without a pair) and ``extra`` (TFLite ones) list the first `MAX_LISTED` with the
  closest same-class detection on the other side; ``capped`` counts the images whose Keras
  detections fill every row of the output (the detector's top-N cutoff then chooses among
  near-equal scores, where any noise swaps detections).
* masks ``[B, N, h, w, num_classes]`` (rows follow the detections): for every matched pair, the
  mask of the Keras detection's class, thresholded at 0.5 on both sides, compared by IoU.
* dense outputs: ``snr_db = 10 log10(sum k^2 / sum (k - t)^2)`` (capped at ``SNR_CAP`` = 300 dB:
  identical outputs, kept finite for JSON) and cosine
  similarity of the flattened outputs. Per-ROI outputs of a detector (same ``[B, N]`` as its
  proposals output) are not compared: their rows follow proposals, which may reorder.

`evaluate` gives ``{"detections": {...} | None, "masks": {...} | None, "dense": [...]}``;
`meets_bar` compares a quantized model's metrics with the float TFLite model's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from opaudit.compare.metrics import cosine, snr_db
from opaudit.fix.parity import mask_iou, output_kind
from opaudit.quantize.modes import TaskBar

IOU_MATCH = 0.8
MAX_LISTED = 10  # unpaired detections listed per side
SNR_CAP = 300.0


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix ``[len(a), len(b)]`` of boxes ``[N, (y1, x1, y2, x2)]`` (any consistent units)."""
    a, b = np.asarray(a, np.float64)[:, None, :], np.asarray(b, np.float64)[None, :, :]
    inter_h = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    inter_w = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = inter_h * inter_w
    union = _area(a) + _area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _area(x: np.ndarray) -> np.ndarray:
    return np.clip(x[..., 2] - x[..., 0], 0, None) * np.clip(x[..., 3] - x[..., 1], 0, None)


def match_by_iou(k: np.ndarray, t: np.ndarray, min_iou: float = IOU_MATCH) -> list[tuple[int, int, float]]:
    """Greedy one-to-one pairs ``(row in k, row in t, iou)`` of detections ``[N, 6]`` (padding
    rows removed by the caller) with the same class and IoU >= ``min_iou``, best IoU first."""
    if len(k) == 0 or len(t) == 0:
        return []
    iou = box_iou(k[:, :4], t[:, :4])
    same = np.rint(k[:, 4])[:, None] == np.rint(t[:, 4])[None, :]
    iou = np.where(same, iou, -1.0)
    order = np.argsort(-iou, axis=None, kind="stable")
    used_k, used_t, pairs = set(), set(), []
    for flat in order:
        i, j = divmod(int(flat), iou.shape[1])
        if iou[i, j] < min_iou:
            break
        if i in used_k or j in used_t:
            continue
        used_k.add(i)
        used_t.add(j)
        pairs.append((i, j, float(iou[i, j])))
    return pairs


def _unpadded(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``[N, 6]`` that are not all zero, and their indices in ``d``."""
    d = np.asarray(d, np.float64).reshape(-1, 6)
    keep = np.flatnonzero(np.abs(d).sum(axis=1) > 0)
    return d[keep], keep


def detection_metrics(k_det: list[np.ndarray], t_det: list[np.ndarray],
                      k_mask: list[np.ndarray] | None = None, t_mask: list[np.ndarray] | None = None
                      ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Detections (and masks) of several samples, each ``[B, N, 6]`` (masks ``[B, N, h, w, C]``)."""
    n_k = n_t = matched = denom = capped = images = 0
    score_err, ious, mask_ious = [], [], []
    missed: list[dict[str, Any]] = []
    extra: list[dict[str, Any]] = []
    for s, (kd, td) in enumerate(zip(k_det, t_det)):
        kd = np.asarray(kd).reshape(-1, np.shape(kd)[-2], 6)
        td = np.asarray(td).reshape(-1, np.shape(td)[-2], 6)
        for b in range(min(len(kd), len(td))):
            kr, ki = _unpadded(kd[b])
            tr, ti = _unpadded(td[b])
            images, capped = images + 1, capped + int(len(kr) == kd.shape[1])
            pairs = match_by_iou(kr, tr)
            n_k, n_t, matched, denom = n_k + len(kr), n_t + len(tr), matched + len(pairs), denom + max(len(kr), len(tr))
            missed += _unpaired(s, b, kr, tr, {i for i, _, _ in pairs}, 0)
            extra += _unpaired(s, b, tr, kr, {j for _, j, _ in pairs}, 1)
            for i, j, iou in pairs:
                ious.append(iou)
                score_err.append(abs(kr[i, 5] - tr[j, 5]))
                if k_mask is not None and t_mask is not None:
                    c = round(kr[i, 4])
                    mask_ious.append(mask_iou(np.asarray(k_mask[s])[b, ki[i], :, :, c],
                                              np.asarray(t_mask[s])[b, ti[j], :, :, c]))
    det = {"keras": n_k, "tflite": n_t, "matched": matched, "iou_match": IOU_MATCH,
           "agreement": 100.0 * matched / denom if denom else None,
           "box_iou_mean": _mean(ious), "score_err_mean": _mean(score_err),
           "score_err_max": float(max(score_err)) if score_err else None,
           "missed": missed[:MAX_LISTED], "extra": extra[:MAX_LISTED], "images": images, "capped": capped}
    masks = None
    if k_mask is not None:
        masks = {"compared": len(mask_ious), "iou_mean": _mean(mask_ious),
                 "iou_min": float(min(mask_ious)) if mask_ious else None}
    return det, masks


def _unpaired(sample: int, image: int, rows: np.ndarray, other: np.ndarray, paired: set[int], side: int) -> list[dict]:
    """Detections of ``rows`` left without a pair: where they are and how close the other side came
    (best same-class IoU and that detection's score), so a reader can tell a flip at the score
    threshold or an NMS near-tie from a real loss."""
    out = []
    for i in range(len(rows)):
        if i in paired:
            continue
        same = [j for j in range(len(other)) if round(other[j, 4]) == round(rows[i, 4])]
        iou = box_iou(rows[i:i + 1, :4], other[same, :4])[0] if same else np.zeros(0)
        best = int(np.argmax(iou)) if len(iou) else None
        out.append({"sample": sample, "image": image, "class": round(rows[i, 4]), "score": round(float(rows[i, 5]), 4),
                    "box": [round(float(v), 4) for v in rows[i, :4]],
                    "best_iou": round(float(iou[best]), 3) if best is not None else None,
                    "best_score": round(float(other[same[best], 5]), 4) if best is not None else None})
    return out


def dense_metrics(name: str, k: list[np.ndarray], t: list[np.ndarray]) -> dict[str, Any]:
    """SNR (dB) and cosine of one output over all samples (flattened together)."""
    kk = np.concatenate([np.asarray(x, np.float64).ravel() for x in k])
    tt = np.concatenate([np.asarray(x, np.float64).ravel() for x in t])
    if kk.shape != tt.shape:
        return {"name": name, "snr_db": None, "cosine": None, "why": "shape differs"}
    snr = capped_snr_db(float(np.sum(kk ** 2)), float(np.sum((kk - tt) ** 2)))
    return {"name": name, "snr_db": snr, "cosine": cosine(kk, tt),
            "max_abs": float(np.max(np.abs(kk - tt))) if kk.size else 0.0}


def capped_snr_db(signal: float, noise: float) -> float:
    """`opaudit.compare.metrics.snr_db` kept within ``±SNR_CAP`` (finite for JSON)."""
    return max(-SNR_CAP, min(SNR_CAP, snr_db(signal, noise)))


def evaluate(keras: list[dict[str, np.ndarray]], tflite: list[dict[str, np.ndarray]]) -> dict[str, Any]:
    """Metrics of TFLite outputs against Keras outputs, per sample dicts ``{output name: array}``."""
    if not keras:
        return {"detections": None, "masks": None, "dense": [], "skipped": []}
    first = keras[0]
    kinds = {n: output_kind(n, np.shape(v)) for n, v in first.items()}
    det = next((n for n, kd in kinds.items() if kd == "detections"), None)
    mask = next((n for n, kd in kinds.items() if kd == "masks"), None) if det else None
    roi = next((n for n, kd in kinds.items() if kd == "rois"), None)
    roi_rows = np.shape(first[roi])[:2] if roi else None
    out: dict[str, Any] = {"detections": None, "masks": None, "dense": [], "skipped": []}
    if det:
        out["detections"], out["masks"] = detection_metrics(
            [s[det] for s in keras], [s[det] for s in tflite],
            [s[mask] for s in keras] if mask else None, [s[mask] for s in tflite] if mask else None)
    for name, kind in kinds.items():
        if name in (det, mask):
            continue
        if kind == "rois" or (roi_rows and np.ndim(first[name]) >= 2 and np.shape(first[name])[:2] == roi_rows):
            out["skipped"].append({"name": name, "why": "rows follow the proposals, which may reorder"})
            continue
        out["dense"].append(dense_metrics(name, [s[name] for s in keras], [s[name] for s in tflite]))
    return out


def meets_bar(quant: dict[str, Any], base: dict[str, Any], bar: TaskBar) -> tuple[bool | None, list[str]]:
    """Does ``quant`` (`evaluate` of the quantized model) hold ``bar`` against ``base`` (`evaluate`
    of the float TFLite model on the same samples)? -> (passed, the reasons it failed).

    A detector is judged on detections and masks only; a model without a detections output on its
    dense outputs. No detection on the samples leaves nothing to judge: ``None``, said so.
    """
    why: list[str] = []
    qd, bd = quant.get("detections"), base.get("detections")
    if qd is not None:
        if bd is None or bd["agreement"] is None or bd["keras"] == 0:
            return None, ["no detection by Keras on the samples: detection agreement cannot be measured"]
        qa = qd["agreement"] or 0.0
        if qa < bd["agreement"] - bar.agreement_drop:
            capped = (f" ({qd['capped']} of {qd['images']} images fill every detection row: the top-N cutoff "
                      "picks among near-equal scores)") if qd.get("capped") else ""
            why.append(f"detection agreement {qa:.1f} % < float TFLite {bd['agreement']:.1f} % - "
                       f"{bar.agreement_drop:g} points{capped}")
        qm, bm = quant.get("masks") or {}, base.get("masks") or {}
        if bm.get("iou_mean") is not None and (qm.get("iou_mean") or 0.0) < bm["iou_mean"] - bar.mask_iou_drop:
            why.append(f"mean mask IoU {qm.get('iou_mean') or 0.0:.3f} < float TFLite {bm['iou_mean']:.3f} - {bar.mask_iou_drop:g}")
        return not why, why
    for d in quant.get("dense", []):
        if d.get("cosine") is None:
            why.append(f"{d['name']}: {d.get('why', 'not comparable')}")
        elif d["cosine"] < bar.cosine or d["snr_db"] < bar.snr_db:
            why.append(f"{d['name']}: cosine {d['cosine']:.4f} / SNR {d['snr_db']:.1f} dB below {bar.cosine:g} / {bar.snr_db:g} dB")
    return not why, why


def _mean(v: list[float]) -> float | None:
    return float(np.mean(v)) if v else None
