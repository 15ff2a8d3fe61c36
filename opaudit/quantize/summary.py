"""One row per model (float, then each quantized mode) for the terminal and HTML renderers.

Pure: reads the ``quantization`` dict of ``fix.json`` (`QuantReport` as JSON), returns plain rows
so both renderers show the same figures.
"""

from __future__ import annotations

from typing import Any


def _latency(runtime: dict[str, Any] | None) -> float | None:
    """Fastest measured whole-model median (seconds), or None."""
    best = (runtime or {}).get("recommended")
    return best.get("median_s") if best else None


def _headline(metrics: dict[str, Any] | None) -> dict[str, Any]:
    m = metrics or {}
    det, masks = m.get("detections"), m.get("masks")
    if det:
        return {"agreement": det.get("agreement"), "matched": det.get("matched"), "keras": det.get("keras"),
                "tflite": det.get("tflite"), "score_err": det.get("score_err_mean"),
                "mask_iou": (masks or {}).get("iou_mean")}
    dense = m.get("dense") or []
    scored = [d for d in dense if d.get("cosine") is not None]
    return {"cosine": min((d["cosine"] for d in scored), default=None),
            "snr_db": min((d["snr_db"] for d in scored), default=None)}


def rows(q: dict[str, Any]) -> list[dict[str, Any]]:
    """``[{"mode", "status", "tool", "size", "size_ratio", "latency_s", "speedup", "kept_float",
    "agreement" | "cosine", ...}]``: the float model first, then one row per requested mode."""
    float_latency = _latency(q.get("float_runtime"))
    out = [{"mode": "float32", "status": "baseline", "tool": "fix", "size": q.get("float_size"), "size_ratio": 1.0,
            "latency_s": float_latency, "speedup": 1.0 if float_latency else None, "kept_float": None,
            "reason": "", **_headline(q.get("float_metrics"))}]
    for v in q.get("variants") or []:
        lat = _latency(v.get("runtime"))
        out.append({"mode": v["mode"], "status": v.get("status"), "tool": v.get("tool"), "size": v.get("size"),
                    "size_ratio": v.get("size_ratio"), "latency_s": lat,
                    "speedup": round(float_latency / lat, 2) if lat and float_latency else None,
                    "kept_float": len(v.get("keep_float") or []), "reason": v.get("reason", ""),
                    **_headline(v.get("metrics"))})
    return out


def noise_chart(variant: dict[str, Any], top: int = 40) -> list[dict[str, Any]]:
    """The per-layer noise of one variant for a bar chart: execution order, the ``top`` layers
    with the lowest output SNR kept (in order), each ``{"layer", "snr_out_db", "added_noise",
    "quantized", "kept_float"}``."""
    layers = ((variant.get("layer_noise") or {}).get("layers")) or []
    kept = set(variant.get("keep_float") or [])
    worst = sorted(layers, key=lambda x: x["snr_out_db"])[:top]
    chosen = {id(x) for x in worst}
    return [{**x, "kept_float": x["layer"] in kept} for x in layers if id(x) in chosen]
