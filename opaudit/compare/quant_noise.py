"""Quantization-noise mode of `opaudit compare`: a quantized `.tflite` against its float `.tflite`.

Both models run on the same inputs with every tensor kept (`tflite_side.Runner`); each activation
tensor of the float model's main subgraph is matched by name in the quantized model (the LiteRT
Quantizer keeps op output names) and dequantized there when it is an integer tensor with a scale
(``(q - zero_point) * scale``). Errors are summed over all samples per tensor, then per Keras
layer (the layer `opaudit inspect` maps the producing op to):

* ``snr_out_db``: SNR of the layer's last output tensor (``10 log10(sum f^2 / sum (f - q)^2)``,
  capped at `metrics.SNR_CAP`);
* ``snr_in_db``: the worst SNR among the tensors the layer reads from other layers (graph inputs
  are exact);
* ``added_noise`` = ``10^(-snr_out/10) - 10^(-snr_in/10)`` (at least 0): the noise power, relative
  to the signal, that this layer itself adds; `fix --quantize` keeps the layers adding the most
  in float first. (A difference of SNRs in dB would rank the first layer first whatever it
  adds, since graph inputs are exact.)
* ``quantized``: the quantized model stores one of the layer's weights, or computes one of its
  activations, in lower precision;
* ``after_selection``: the layer is at or after a data-dependent selection (top-k, NMS, argmax,
  where): a tiny change upstream can pick other rows there, so its position-by-position noise
  says little about its own precision (Mask R-CNN: every layer after the proposal layer).

Layers come in execution order (first op index). Tensors that do not match by name or shape
(a converter-quantized model renames some) are counted in ``unmatched`` and left out; so are
tensors the runtime cannot return after ``invoke()`` (``unreadable``, e.g. dynamic-size ones).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from opaudit.compare.tflite_side import Runner, catalogue
from opaudit.quantize.metrics import SNR_CAP, capped_snr_db

LOW_PRECISION = {"int8", "uint8", "int16", "float16", "int4"}
SELECTING = {"TOPK_V2", "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5", "ARG_MAX", "ARG_MIN", "WHERE", "UNIQUE"}


@dataclass
class LayerNoise:
    layer: str
    first_op: int
    ops: int
    snr_in_db: float
    snr_out_db: float
    added_noise: float
    quantized: bool
    after_selection: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _dequantize(value: np.ndarray, quant: dict | None) -> np.ndarray:
    if value.dtype.kind in "iu" and quant and quant.get("scale"):
        scale = np.asarray(quant["scale"], np.float64)
        zero = np.asarray(quant.get("zero_point") or [0], np.float64)
        return (value.astype(np.float64) - zero) * scale
    return value.astype(np.float64)


def quantized_layers(qreport) -> set[str]:
    """Layers (inspect mapping) of ops that write a low-precision activation or read a
    low-precision constant, directly or through a DEQUANTIZE of one."""
    tensors = {(t.subgraph, t.index): t for t in qreport.tensors}
    producer = {(o.subgraph, t): o for o in qreport.operators for t in o.outputs}
    out = set()
    for o in qreport.operators:
        if o.layer and o.op not in ("QUANTIZE", "DEQUANTIZE") and any(
                (t := tensors.get((o.subgraph, i))) is not None and t.dtype in LOW_PRECISION for i in o.outputs):
            out.add(o.layer)
        for i in o.inputs:
            t = tensors.get((o.subgraph, i))
            src = producer.get((o.subgraph, i))
            if src is not None and src.op == "DEQUANTIZE":
                t = tensors.get((o.subgraph, src.inputs[0])) if src.inputs else None
            if t is not None and t.buffer_size and t.dtype in LOW_PRECISION and o.layer:
                out.add(o.layer)
    return out


def quantization_noise(float_path: str, quant_path: str, samples: list[dict[str, np.ndarray]]) -> dict[str, Any]:
    """Per-layer noise of ``quant_path`` against ``float_path`` on ``samples`` (``{signature input
    name: array}`` each) -> ``{"layers": [LayerNoise dicts], "tensors": n, "unmatched": n}``."""
    from opaudit.inspect import inspect_model

    frep, qrep = inspect_model(float_path, probe=False), inspect_model(quant_path, probe=False)
    ftensors, f_in, _ = catalogue(frep, set())
    qtensors, q_in, _ = catalogue(qrep, set())
    qinfo = {t.name: t for t in qrep.tensors if t.subgraph == 0}
    qby_name = {t.name: t for t in qtensors}
    pairs = [(f, qby_name[f.name]) for f in ftensors
             if f.name in qby_name and tuple(qby_name[f.name].shape) == tuple(f.shape)]
    sums = defaultdict(lambda: [0.0, 0.0])
    unreadable: set[str] = set()
    frun, qrun = Runner(float_path, f_in), Runner(quant_path, q_in)
    for inputs in samples:
        frun.run(inputs)
        qrun.run(inputs)
        for f, q in pairs:
            try:
                fv = frun.get(f.index).astype(np.float64)
                qv = _dequantize(qrun.get(q.index), qinfo[q.name].quantization)
            except ValueError:  # not readable after invoke (e.g. a dynamic-size tensor): left out
                unreadable.add(f.name)
                continue
            if fv.shape != qv.shape:
                unreadable.add(f.name)
                continue
            sums[f.name][0] += float(np.sum(fv ** 2))
            sums[f.name][1] += float(np.sum((fv - qv) ** 2))
    snr = {name: capped_snr_db(s, n) for name, (s, n) in sums.items() if name not in unreadable}
    layers = _per_layer(frep, snr, quantized_layers(qrep))
    return {"layers": [x.to_dict() for x in layers], "tensors": len(snr), "unmatched": len(ftensors) - len(pairs),
            "unreadable": len(unreadable)}


def _per_layer(frep, snr: dict[str, float], quantized: set[str]) -> list[LayerNoise]:
    names = {t.index: t.name for t in frep.tensors if t.subgraph == 0}
    ops = [o for o in frep.operators if o.subgraph == 0 and o.layer]
    by_layer: dict[str, list] = defaultdict(list)
    for o in ops:
        by_layer[o.layer].append(o)
    made_by = {t: o.layer for o in ops for t in o.outputs}
    downstream = after_selection(frep)
    out = []
    for layer, lops in by_layer.items():
        last = max(lops, key=lambda o: o.index)
        s_out = next((snr[names[t]] for t in last.outputs if names.get(t) in snr), None)
        if s_out is None:
            continue
        reads = [names[t] for o in lops for t in o.inputs if t >= 0 and made_by.get(t) not in (None, layer)]
        s_in = min((snr[n] for n in reads if n in snr), default=SNR_CAP)
        added = max(0.0, 10 ** (-s_out / 10) - 10 ** (-s_in / 10))
        out.append(LayerNoise(layer, min(o.index for o in lops), len(lops), round(s_in, 2), round(s_out, 2),
                              float(f"{added:.4g}"), layer in quantized,
                              any(o.index in downstream for o in lops)))
    return sorted(out, key=lambda x: x.first_op)


def after_selection(frep) -> set[int]:
    """Indices of subgraph-0 ops that are, or read (transitively) the output of, a `SELECTING` op."""
    ops = [o for o in frep.operators if o.subgraph == 0]
    readers: dict[int, list] = defaultdict(list)
    for o in ops:
        for t in o.inputs:
            readers[t].append(o)
    seen = {o.index for o in ops if o.op in SELECTING}
    todo = [o for o in ops if o.index in seen]
    while todo:
        for t in todo.pop().outputs:
            for r in readers.get(t, ()):
                if r.index not in seen:
                    seen.add(r.index)
                    todo.append(r)
    return seen


def compare_quantized(float_path: str, quant_path: str, samples_ref: str | None = None) -> dict[str, Any]:
    """`opaudit compare --against FLOAT QUANT`: `quantization_noise` on the user's samples
    (``file.py:function``, each sample a list in the float model's input order, or a bare array
    for one input) or on seeded random inputs -> its dict plus ``samples`` (a description).
    Raises UsageError for samples that do not fit the model."""
    from ai_edge_litert.interpreter import Interpreter

    from opaudit import samples as S

    interp = Interpreter(model_path=float_path)
    runner_inputs = interp.get_signature_runner().get_input_details()  # {name: detail}
    position = {d["index"]: i for i, d in enumerate(interp.get_input_details())}
    sig = [{"name": n, "shape": [int(x) for x in d["shape"]], "dtype": np.dtype(d["dtype"]).name}
           for n, d in sorted(runner_inputs.items(), key=lambda kv: position.get(kv[1]["index"], 0))]
    if samples_ref:
        data, note = S.validate(S.from_function(samples_ref, len(sig)), sig), f"samples from {samples_ref}"
    else:
        data, note = S.random_samples(sig), f"{S.N_SAMPLES} seeded random inputs (seed {S.SEED})"
    named = [{s["name"]: a for s, a in zip(sig, sample)} for sample in data]
    return {**quantization_noise(float_path, quant_path, named), "samples": note,
            "float": float_path, "quantized": quant_path}
