"""`compare_loaded`: a built Keras model against its `.tflite`, layer by layer (imports TensorFlow).

Per sample: run the interpreter keeping every tensor; on the first sample, match TFLite tensors
to Keras layer outputs (one Keras pass scoring the candidates of `boundaries.candidates`); then
run the Keras model node by node (`keras_graph.walk`), and as each layer with a matched tensor
is computed compare it (propagated) and run it -- with the layers fused into it, the smallest
Keras sub-model between matched boundaries -- on the TFLite's own input tensors (isolated).
Metrics are merged over samples (worst case) and turned into a verdict (`verdict.decide`).
Memory: the interpreter's arena (every tensor kept) plus the Keras values still to be read, as
in one inference; TFLite values are fetched when a layer needs them and dropped after.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from opaudit.compare import (
    boundaries,
    keras_graph,
    mechanisms,
    metrics,
    tflite_side,
    verdict,
)
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
    clock = {"prepare": time.monotonic() - t0, "tflite": 0.0, "match": 0.0, "layers": 0.0}
    for s, inputs in enumerate(samples):
        say(f"sample {s + 1}/{len(samples)}: TFLite, every tensor kept")
        with _timed(clock, "tflite"):
            runner.run(feed(inputs))
        if s == 0:
            say("matching TFLite tensors to Keras layer outputs")
            with _timed(clock, "match"):
                _match(g, runner, inputs)
        with _timed(clock, "layers"):
            seen, finals = _stream(g, s, len(samples), inputs, runner, bar, say)
        per_sample.append(seen)
        tout = {k: runner.get(g.assigned[k]) for k in g.out_keys if k in g.assigned}
        outputs.append([metrics.measure(finals[k], tout[k], bar) if k in tout else None for k in g.out_keys])
        verdicts.append(_parity(model, g, finals, tout, bar))
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
    names = {n.name for n in nodes}
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


def _match(g: _Graph, runner, inputs) -> None:
    """Fill ``g.assigned``: one Keras pass over the first sample, scoring candidate tensors."""
    consumers: dict[int, list[int]] = {}
    for n in g.nodes:
        for k in n.inputs:
            consumers.setdefault(k, []).append(n.order)
    outs = [boundaries.KerasOut(k, n.order, n.name, shape, tuple(consumers.get(k, ())))
            for n in g.nodes for k, shape in zip(n.outputs, n.shapes)]
    by_order: dict[int, list[boundaries.KerasOut]] = {}
    for o in outs:
        by_order.setdefault(o.order, []).append(o)
    pairs: dict[int, list[int]] = {}
    for k, t in boundaries.candidates(list(g.tensors.values()), outs, by_order, g.assigned):
        pairs.setdefault(k, []).append(t)
    scored: list[tuple[float, int, int]] = []

    def visit(n, values) -> None:
        for k in n.outputs:
            for t in pairs.get(k, ()):
                kv, tv = np.asarray(values[k]), runner.get(t)
                scored.append((metrics.measure(kv, tv).max_rel if kv.shape == tv.shape else float("inf"), k, t))

    keras_graph.walk(g.nodes, dict(zip(g.in_keys, inputs)), set(), visit)
    g.assigned = boundaries.assign(scored, g.assigned)


def _stream(g: _Graph, s: int, n_samples: int, inputs, runner, bar: float, say):
    """One Keras pass over sample ``s``; each layer with a matched tensor is compared as it is
    computed (`_layer`). -> ({node order: _Seen}, {model output key: Keras value})."""
    model_in = dict(zip(g.in_keys, inputs))
    prop_rel: dict[int, float] = {}
    seen: dict[int, _Seen] = {}
    finals: dict[int, Any] = {}

    def visit(n, values) -> None:
        finals.update({k: values[k] for k in n.outputs if k in g.out_keys})
        if any(k in g.assigned for k in n.outputs):
            if n.order % 25 == 0:
                say(f"sample {s + 1}/{n_samples}: layer {n.order + 1}/{len(g.nodes)} ({n.layer})")
            seen[n.order] = _layer(g, n, values, model_in, prop_rel, runner, bar, g.seed + s)

    keras_graph.walk(g.nodes, dict(model_in), set(g.out_keys), visit)
    return seen, finals


def _layer(g: _Graph, n, values, model_in, prop_rel: dict[int, float], runner, bar: float, seed: int) -> _Seen:
    """Propagated and isolated metrics of layer ``n`` (``values`` holds its Keras inputs and
    outputs); ``prop_rel`` collects each matched tensor's propagated error for later layers."""
    mine = [k for k in n.outputs if k in g.assigned]
    tv = {k: runner.get(g.assigned[k]) for k in mine}
    props = {k: metrics.measure(values[k], tv[k], bar) for k in mine}
    prop_rel.update({k: m.max_rel for k, m in props.items()})
    have = (set(g.assigned) | set(g.in_keys)) - set(n.outputs)
    run = keras_graph.region(n, have, g.made_by)
    bound = {k for r in run for k in r.inputs if k in have}
    start = {k: (runner.get(g.assigned[k]) if k in g.assigned else model_in[k]) for k in bound}
    iso = keras_graph.run_nodes(run, dict(start))
    x = _Seen(region=[r.layer for r in run if r is not n],
              input_rel=max((prop_rel.get(k, 0.0) for k in bound), default=0.0))
    x.prop = metrics.worst(list(props.values()))
    x.iso = metrics.worst([metrics.measure(iso[k], tv[k], bar) for k in mine])
    x.shift = metrics.worst([metrics.measure(values[k], iso[k], bar) for k in mine])
    if not x.iso.equal(bar):
        x.sens = _sensitivity(run, start, iso, mine, min(max(x.input_rel, MIN_NOISE), bar), seed, bar)
    rows = (x.prop.rows if not x.prop.equal(bar) else []) or (x.iso.rows if not x.iso.equal(bar) else [])
    if rows:
        ops = {g.ops[i] for i in _node_ops(g, n, x.region)}
        x.mechanism = mechanisms.recognise(ops, [values[k] for k in n.inputs if k in values], rows,
                                           x.prop.row_count)
    return x


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
    names = {n.name} | {r.split("#", 1)[0] for r in region}
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
