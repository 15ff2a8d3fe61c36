"""`compare_loaded`: a built Keras model against its `.tflite`, layer by layer (imports TensorFlow).

Per sample: run every Keras layer on the real inputs (propagated values), run the interpreter
keeping every tensor, match TFLite tensors to Keras layer outputs (`boundaries.match`, on the
first sample), then for each layer with a tensor run that layer -- with the layers fused into
it, the smallest Keras sub-model between matched boundaries -- on the TFLite's own input
tensors (isolated). Metrics are merged over samples (worst case) and turned into a verdict
(`verdict.decide`). Memory: one sample's Keras activations and matched TFLite tensors at a time.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from opaudit.compare import boundaries, keras_graph, mechanisms, metrics, tflite_side, verdict
from opaudit.compare.metrics import BAR, Metrics
from opaudit.compare.report import CompareReport, LayerComparison, OutputComparison
from opaudit.fix import parity as fixparity

SENSITIVITY_TRIALS = 3
MIN_NOISE = 1e-6  # relative input noise of the sensitivity test when inputs are exact
# ... and at most the bar: ill-conditioning means float-noise-sized inputs move the output
# (a layer fed inputs that already differ beyond the bar is judged on isolated equality alone).


@dataclass
class _Graph:
    """The Keras graph and the TFLite tensors matched to its outputs."""

    nodes: list[keras_graph.KNode]
    in_keys: list[int]
    out_keys: list[int]
    made_by: dict[int, keras_graph.KNode]
    tensors: dict[int, tflite_side.TflTensor]
    ops: dict[int, str]  # subgraph-0 operator index -> op name
    layer_ops: dict[str, list[int]]  # layer name -> operator indices mapped to it
    assigned: dict[int, int] = field(default_factory=dict)  # keras key -> tensor index
    seed: int = 0


@dataclass
class _Seen:
    """One layer on one sample."""

    prop: Metrics | None = None
    iso: Metrics | None = None
    shift: Metrics | None = None
    sens: Metrics | None = None
    input_rel: float = 0.0
    region: list[str] = field(default_factory=list)
    mechanism: str | None = None


def compare_loaded(model, tflite: str, samples: list[list[np.ndarray]], *, label: str = "model",
                   bar: float = BAR, plan: dict[str, list[str]] | None = None,
                   progress: Callable[[str], None] | None = None) -> CompareReport:
    """Compare Keras ``model`` with the ``tflite`` file on ``samples`` (``[sample][input]``, in the
    model's input order, shapes pinned as converted). ``plan``: the fix plan (``{layer_path:
    [rule, ...]}``) when known, to name the rule behind a divergent layer."""
    t0 = time.monotonic()
    say = progress or (lambda _text: None)
    g, runner, feed = _prepare(model, tflite)
    per_sample: list[dict[int, _Seen]] = []
    outputs: list[list[Metrics | None]] = []
    verdicts: list[list[dict]] = []  # the parity comparisons of `fix` (row sets for rois/detections)
    clock = {"prepare": time.monotonic() - t0, "keras": 0.0, "tflite": 0.0, "match": 0.0, "isolated": 0.0}
    for s, inputs in enumerate(samples):
        say(f"sample {s + 1}/{len(samples)}: Keras layer by layer")
        with _timed(clock, "keras"):
            kvals = keras_graph.run_nodes(g.nodes, dict(zip(g.in_keys, inputs)))
        say(f"sample {s + 1}/{len(samples)}: TFLite, every tensor kept")
        with _timed(clock, "tflite"):
            runner.run(feed(inputs))
        if s == 0:
            with _timed(clock, "match"):
                _match(g, runner, kvals)
        with _timed(clock, "isolated"):
            tvals = {k: runner.get(t) for k, t in g.assigned.items()}
            per_sample.append(_sample(g, s, inputs, kvals, tvals, bar, say))
            outputs.append([metrics.measure(kvals[k], tvals[k], bar) if k in tvals else None for k in g.out_keys])
            verdicts.append(_parity(model, g, kvals, tvals, bar))
        del kvals, tvals
    passed = {o["name"]: bool(o["passed"]) for o in fixparity.merge_samples(verdicts)}
    rep = _report(model, g, per_sample, outputs, passed, label, tflite, bar, plan, time.monotonic() - t0)
    rep.timings = {k: round(v, 2) for k, v in clock.items()}
    return rep


@contextlib.contextmanager
def _timed(clock: dict[str, float], key: str):
    t = time.monotonic()
    try:
        yield
    finally:
        clock[key] += time.monotonic() - t


def _prepare(model, tflite: str):
    from opaudit.inspect import inspect_model

    nodes, in_keys, out_keys = keras_graph.graph(model)
    report = inspect_model(tflite, probe=False)
    names = {n.node.operation.name for n in nodes}
    tensors, sig_in, sig_out = tflite_side.catalogue(report, names)
    ops = {o.index: o.op for o in report.operators if o.subgraph == 0}
    layer_ops: dict[str, list[int]] = {}
    for o in report.operators:
        if o.subgraph == 0 and o.layer:
            layer_ops.setdefault(o.layer.split("/", 1)[0], []).append(o.index)
    g = _Graph(nodes, in_keys, out_keys, keras_graph.producers(nodes), {t.index: t for t in tensors}, ops, layer_ops)
    from opaudit.modelspec import output_names

    g.assigned = boundaries.output_keys(sig_out, output_names(model), out_keys)
    runner = tflite_side.Runner(tflite, sig_in)
    in_names = [t.name.split(":")[0] for t in model.inputs]
    by_name = all(n in in_names for n in sig_in)

    def feed(inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
        if by_name:
            return {n: inputs[in_names.index(n)] for n in sig_in}
        return dict(zip(sig_in, inputs))

    return g, runner, feed


def _match(g: _Graph, runner, kvals: dict[int, Any]) -> None:
    """Fill ``g.assigned`` from the first sample's values."""
    consumers: dict[int, list[int]] = {}
    for n in g.nodes:
        for k in n.inputs:
            consumers.setdefault(k, []).append(n.order)
    outs = [boundaries.KerasOut(k, n.order, n.node.operation.name, shape, tuple(consumers.get(k, ())))
            for n in g.nodes for k, shape in zip(n.outputs, n.shapes)]
    cache: dict[int, Any] = {}

    def score(key: int, tensor: int) -> float:
        if tensor not in cache:
            cache[tensor] = runner.get(tensor)
        k, t = np.asarray(kvals[key]), cache[tensor]
        if k.shape != t.shape:
            return float("inf")
        return metrics.measure(k, t).max_rel

    g.assigned = boundaries.match(list(g.tensors.values()), outs, g.assigned, score)


def _sample(g: _Graph, s: int, inputs, kvals, tvals, bar: float, say) -> dict[int, _Seen]:
    """Propagated and isolated metrics of every layer with a matched tensor, on one sample."""
    model_in = dict(zip(g.in_keys, inputs))
    prop_rel = {k: metrics.measure(kvals[k], tvals[k], bar).max_rel for k in tvals}
    seen: dict[int, _Seen] = {}
    for n in g.nodes:
        mine = [k for k in n.outputs if k in tvals]
        if not mine:
            continue
        if n.order % 25 == 0:
            say(f"sample {s + 1}: isolating layer {n.order + 1}/{len(g.nodes)} ({n.layer})")
        have = (set(tvals) | set(g.in_keys)) - set(n.outputs)
        run = keras_graph.region(n, have, g.made_by)
        bound = {k for r in run for k in r.inputs if k in have}
        start = {k: (tvals[k] if k in tvals else model_in[k]) for k in bound}
        iso = keras_graph.run_nodes(run, dict(start))
        x = _Seen(region=[r.layer for r in run if r is not n],
                  input_rel=max((prop_rel.get(k, 0.0) for k in bound), default=0.0))
        x.prop = metrics.worst([metrics.measure(kvals[k], tvals[k], bar) for k in mine])
        x.iso = metrics.worst([metrics.measure(iso[k], tvals[k], bar) for k in mine])
        x.shift = metrics.worst([metrics.measure(kvals[k], iso[k], bar) for k in mine])
        if not x.iso.equal(bar):
            x.sens = _sensitivity(run, start, iso, mine, min(max(x.input_rel, MIN_NOISE), bar), g.seed + s, bar)
        rows = (x.prop.rows if not x.prop.equal(bar) else []) or (x.iso.rows if not x.iso.equal(bar) else [])
        if rows:
            ops = {g.ops[i] for i in _node_ops(g, n, x.region)}
            x.mechanism = mechanisms.recognise(ops, [kvals[k] for k in n.inputs if k in kvals], rows,
                                               x.prop.row_count)
        seen[n.order] = x
    return seen


def _sensitivity(run, start: dict[int, Any], iso: dict[int, Any], keys: list[int], eps: float,
                 seed: int, bar: float) -> Metrics | None:
    """How far the Keras region moves when its float inputs get random noise of relative size
    ``eps`` (worst of `SENSITIVITY_TRIALS` draws)."""
    rng = np.random.default_rng(seed)
    found = []
    for _ in range(SENSITIVITY_TRIALS):
        noisy = {}
        for k, v in start.items():
            v = np.asarray(v)
            if v.dtype.kind == "f" and v.size:
                scale = float(np.abs(v).max()) or 1.0
                v = (v + eps * scale * rng.standard_normal(v.shape)).astype(v.dtype)
            noisy[k] = v
        moved = keras_graph.run_nodes(run, noisy)
        found.append(metrics.worst([metrics.measure(iso[k], moved[k], bar) for k in keys]))
    return metrics.worst(found)


def _node_ops(g: _Graph, n, region: list[str]) -> list[int]:
    """Subgraph-0 operators of layer ``n`` (and the layers fused into it), by name and by the
    tensors matched to its outputs."""
    names = {n.node.operation.name} | {r.split("#", 1)[0] for r in region}
    found = {i for name in names for i in g.layer_ops.get(name, [])}
    found |= {g.tensors[g.assigned[k]].producer for k in n.outputs if k in g.assigned and g.assigned[k] in g.tensors}
    return sorted(found)


def _rules(plan: dict[str, list[str]] | None, layer: str) -> list[str]:
    name = layer.split("#", 1)[0]
    return sorted({r for path, rs in (plan or {}).items() if path == name or path.startswith(name + "/") for r in rs})


def _merge(n, g: _Graph, seen: list[_Seen], plan, bar: float) -> LayerComparison:
    """One layer over all samples: worst metrics, differing rows per sample."""
    c = LayerComparison(layer=n.layer, class_name=n.class_name, order=n.order, rules=_rules(plan, n.layer))
    if not seen:
        return c
    c.propagated = metrics.worst([x.prop for x in seen])
    c.isolated = metrics.worst([x.iso for x in seen])
    c.keras_shift = metrics.worst([x.shift for x in seen])
    c.sensitivity = metrics.worst([x.sens for x in seen])
    c.input_rel = max(x.input_rel for x in seen)
    c.region = seen[0].region
    c.mechanism = next((x.mechanism for x in seen if x.mechanism), None)
    c.rows = {s: x.prop.rows for s, x in enumerate(seen) if x.prop.rows and not x.prop.equal(bar)}
    c.tensors = [g.tensors[g.assigned[k]].name if g.assigned[k] in g.tensors else f"tensor {g.assigned[k]}"
                 for k in n.outputs if k in g.assigned]
    c.tflite_nodes = [f"{i}:{g.ops[i]}" for i in _node_ops(g, n, c.region)]
    c.status = verdict.layer_status(c.propagated, c.isolated, c.sensitivity, bar)
    return c


def _parity(model, g: _Graph, kvals, tvals, bar: float) -> list[dict]:
    """One sample's outputs judged as `fix` judges them (`opaudit.fix.parity`, dense bar = ``bar``)."""
    from opaudit.modelspec import output_names

    names = output_names(model)
    pairs = [(names[i] if i < len(names) else f"output_{i}", k) for i, k in enumerate(g.out_keys) if k in tvals]
    return fixparity.compare_outputs({n: kvals[k] for n, k in pairs}, {n: tvals[k] for n, k in pairs},
                                     {**fixparity.BAR, "rel": bar})


def _report(model, g: _Graph, per_sample, outputs, passed: dict[str, bool], label: str, tflite: str,
            bar: float, plan, seconds: float) -> CompareReport:
    from opaudit.modelspec import output_names

    layers = [_merge(n, g, [ps[n.order] for ps in per_sample if n.order in ps], plan, bar) for n in g.nodes]
    by_name = {c.layer: c for c in layers}
    for c in layers:
        for r in c.region:
            if r in by_name and by_name[r].status == "no-tensor" and by_name[r].fused_into is None:
                by_name[r].fused_into = c.layer
    names = output_names(model)
    outs = []
    for i, k in enumerate(g.out_keys):
        ms = [o[i] for o in outputs if o[i] is not None]
        if ms:
            t = g.assigned[k]
            outs.append(OutputComparison(
                name=names[i] if i < len(names) else f"output_{i}",
                tensor=g.tensors[t].name if t in g.tensors else f"tensor {t}", metrics=metrics.worst(ms),
                passed=passed.get(names[i] if i < len(names) else f"output_{i}"),
                rows={s: o[i].rows for s, o in enumerate(outputs) if o[i] is not None and o[i].rows}))
    v, first, ex, summary = verdict.decide(layers, outs, bar)
    rep = CompareReport(verdict=v, model=label, tflite=tflite, samples=len(per_sample), bar=bar, layers=layers,
                        outputs=outs, first_divergent=first, explanations=ex, summary=summary,
                        end_to_end=max((o.metrics.max_rel for o in outs), default=None),
                        seconds=round(seconds, 2))
    missing = [names[i] if i < len(names) else str(i) for i, k in enumerate(g.out_keys) if k not in g.assigned]
    if missing:
        rep.notes.append(f"outputs without a matching SignatureDef output (not compared): {', '.join(missing)}")
    if rep.no_tensor:
        rep.notes.append(f"{len(rep.no_tensor)} layer(s) have no TFLite tensor (fused); each is compared "
                         "inside the region of the next layer that has one (fused_into)")
    return rep
