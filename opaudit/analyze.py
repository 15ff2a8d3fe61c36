"""Static analysis + the two runtime runs -> findings, per-node support, delegate reports.

The interpreter names only the first node that fails, and may pass `allocate_tensors()` and
fail in `invoke()` when a data-dependent op comes first. So every node is judged statically
(op kind, the stock runtime's kernels, delegate support) and the runs are folded in, each into
its own target: the stock-kernel run decides `cpu`, the default run (XNNPACK applied) decides
`xnnpack`, and XNNPACK's own partitions say which nodes it took (`opaudit.delegation`). The node
a run named gets the runtime's own error text; a failure that static analysis did not predict
becomes a finding of its own; a static cpu error that a clean run contradicts stops blocking
that target. A node a delegate takes (measured or predicted) is not blocked on that delegate's
target even without a stock kernel. Pure functions over plain data.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from opaudit.delegation import delegation_report, members_of
from opaudit.mapping import detect_keras3, layer_of
from opaudit.findings import (DELEGATES, TARGETS, Code, DelegationReport, Finding, NodeDelegation, NodeKey, Operator,
                              ProbeResult, Support, TensorInfo)
from opaudit.support import NO_FACTS, GraphFacts

ALL = TARGETS
FLEX_RUNTIME_NOTE = (
    "no pip runtime (tf.lite.Interpreter, ai_edge_litert) links the Flex delegate in TF 2.21; "
    "on a device it needs the Select-TF-ops runtime"
)

SupportFn = Callable[[Operator, Sequence[TensorInfo], GraphFacts], dict[str, Support]]


def node_findings(op: Operator, support: dict[str, Support], taken: Sequence[str] = ()) -> list[Finding]:
    """Findings that stop this node from running on the stock kernels, and so on every target
    whose delegate does not take it (`taken`: the delegates that do, e.g. XNNPACK for
    MediaPipe's Convolution2DTransposeBias; the delegate then runs it, no kernel needed)."""
    where = dict(subgraph=op.subgraph, index=op.index, op=op.op, layer=op.layer)
    blocked = tuple(t for t in ALL if t not in taken)
    scope = f" (layer {op.layer})" if op.layer else ""
    if op.kind == "flex":
        return [Finding(
            Code.FLEX_OP, "error",
            f"Select-TF op {op.tf_op}{scope}: {FLEX_RUNTIME_NOTE}",
            targets=ALL, detail={"tf_op": op.tf_op, "tf_name": op.tf_name,
                                 "expected_error": "Select TensorFlow op(s) ... not supported by this interpreter"},
            **where,
        )]
    cpu = support.get("cpu", Support("unknown"))
    if op.kind == "custom" and cpu.status != "yes":
        also = f"; taken by {', '.join(taken)}, which implement it" if taken else ""
        return [Finding(
            Code.UNRESOLVED_CUSTOM_OP, "error",
            f"custom op {op.op}{scope} has no kernel in the stock runtime{also}",
            targets=blocked, detail={"tf_op": op.tf_op, "tf_name": op.tf_name, "taken_by": list(taken),
                                     "expected_error": f"Encountered unresolved custom op: {op.op}"},
            **where,
        )]
    if op.kind == "builtin" and cpu.status == "no":
        return [Finding(
            Code.UNKNOWN_BUILTIN, "error",
            f"builtin {op.op} v{op.version}{scope}: {cpu.reason or 'not in the stock runtime'}",
            targets=ALL, detail={"tf_name": op.tf_name}, **where,
        )]
    return []


def delegate_findings(operators: Sequence[Operator], delegation: Mapping[str, DelegationReport],
                      errors: set[NodeKey]) -> list[Finding]:
    """One finding per (target, op, kind of reason) for nodes a delegate does not take.

    GPU: such a node blocks the `gpu` target (policy: the whole graph delegated). XNNPACK:
    it falls back to the CPU kernels, a warning only. Nodes in `errors` (already an error on
    every target, e.g. Flex) are left out. `detail.source` says measured or predicted.
    """
    kinds = {(o.subgraph, o.index): o.kind for o in operators}
    layer = {(o.subgraph, o.index): o.layer for o in operators}
    out = []
    for target in ("gpu", "xnnpack"):
        if target not in delegation:
            continue
        groups: dict[tuple[str, str, str], list[NodeDelegation]] = defaultdict(list)
        for n in delegation[target].nodes:
            key = (n.subgraph, n.index)
            if n.delegated or key in errors or kinds.get(key) == "flex":
                continue
            # group by the kind of reason ("dynamic shape"), not its per-tensor detail
            groups[(n.op, n.source, re.split(r"[:;(]", n.reason, maxsplit=1)[0])].append(n)
        for (name, source, kind), nodes in sorted(groups.items()):
            out.append(_delegate_finding(target, name, source, kind, nodes, layer))
    return out


def _delegate_finding(target, name, source, kind, nodes, layer) -> Finding:
    example = nodes[0].reason
    reason = example if len(nodes) == 1 else f"e.g. {example}"
    layers = sorted({la for n in nodes if (la := layer.get((n.subgraph, n.index)))})
    code, sev, blocks = ((Code.GPU_UNSUPPORTED, "error", ("gpu",)) if target == "gpu"
                         else (Code.XNNPACK_UNSUPPORTED, "warning", ()))
    verb = "not delegated to the GPU" if target == "gpu" else "not delegated to XNNPACK (runs on the CPU kernels)"
    return Finding(
        code, sev, f"{len(nodes)} x {name} {verb} [{source}]: {reason or 'unsupported'}",
        op=name, targets=blocks, subgraph=nodes[0].subgraph, index=nodes[0].index,
        layer=layers[0] if len(layers) == 1 else None,
        detail={"nodes": [[n.subgraph, n.index] for n in nodes], "layers": layers, "target": target,
                "source": source},
    )


def nms_padding_findings(operators: Sequence[Operator], consumed: set[tuple[int, int]], outputs: set[tuple[int, int]]) -> list[Finding]:
    """NMS V4/V5 whose valid-count output nobody reads: results are silently zero-padded.

    `tf.image.non_max_suppression` (V3) converts to builtin NON_MAX_SUPPRESSION_V4, whose
    selected indices are always `max_output_size` long and zero-padded; if the valid count is
    dropped, a following gather picks box 0 again and again.
    """
    valid_slot = {"NON_MAX_SUPPRESSION_V4": 1, "NON_MAX_SUPPRESSION_V5": 2}
    out = []
    for op in operators:
        slot = valid_slot.get(op.op)
        if slot is None or len(op.outputs) <= slot:
            continue
        key = (op.subgraph, op.outputs[slot])
        if key not in consumed and key not in outputs:
            out.append(Finding(
                Code.NMS_PADDED_OUTPUT, "warning",
                f"{op.op} output is zero-padded to max_output_size and its valid count is unused: "
                "results silently differ from TensorFlow's non_max_suppression",
                subgraph=op.subgraph, index=op.index, op=op.op, layer=op.layer,
                detail={"tf_name": op.tf_name, "tf_op": "NonMaxSuppressionV3"},
            ))
    return out


def probe_findings(probe: ProbeResult | None, operators: Sequence[Operator], static: list[Finding],
                   targets: tuple[str, ...] = ALL) -> list[Finding]:
    """Fold one runtime run into the findings; returns the full list.

    A failure blocks `targets` (the stock run: `cpu`, plus `gpu` unless the GPU delegate is
    predicted to take the failing node; the default run: `xnnpack`). The node the runtime
    named gets the runtime's own error text (and the run's targets); a failure static
    analysis did not predict becomes a finding of its own.
    """
    if probe is None or probe.status in ("ok", "skipped"):
        return static
    run = "stock kernels" if probe.resolver == "stock" else "default runtime (XNNPACK)"
    if probe.status in ("crashed", "timeout"):
        code = Code.PROBE_CRASHED if probe.status == "crashed" else Code.PROBE_TIMEOUT
        return static + [Finding(code, "error", f"interpreter probe ({run}) {probe.status}: {probe.error}",
                                 targets=targets, error=probe.error, detail={"resolver": probe.resolver})]
    from opaudit.probe import parse_failed_nodes

    named = parse_failed_nodes(probe.error or "")
    code = {"load_failed": Code.PROBE_LOAD_FAILED, "prepare_failed": Code.PROBE_PREPARE_FAILED}.get(
        probe.status, Code.PROBE_INVOKE_FAILED)
    if not named:
        return static + [Finding(code, "error", f"the {run} failed at {probe.stage}: {probe.error}",
                                 targets=targets, error=probe.error, detail={"resolver": probe.resolver})]
    out = list(static)
    flagged = {(f.subgraph, f.index): i for i, f in enumerate(out) if f.index is not None and f.severity == "error"}
    index, name, stage = named[0]  # innermost: the node that really failed
    cands = [o for o in operators if o.index == index and o.op == name]
    hit = next((o for o in cands if (o.subgraph, o.index) in flagged), cands[0] if cands else None)
    if hit is not None and (hit.subgraph, hit.index) in flagged:
        i = flagged[(hit.subgraph, hit.index)]
        f = out[i]
        merged = tuple(t for t in ALL if t in f.targets or t in targets)
        out[i] = dataclasses.replace(f, error=f.error or probe.error, targets=merged,
                                     detail={**f.detail, "named_by_runtime": stage})
    else:
        out.append(Finding(
            code, "error", f"node {index} ({name}) failed to {stage} in the {run}",
            subgraph=hit.subgraph if hit else None, index=index, op=name,
            layer=hit.layer if hit else None, targets=targets, error=probe.error,
            detail={"named_by_runtime": stage, "resolver": probe.resolver},
        ))
    return out


def runtime_overrides(findings: list[Finding], probes: Mapping[str, ProbeResult]) -> list[Finding]:
    """Static cpu errors the runtime contradicts: when the run of a target loaded, prepared
    and invoked cleanly (and measured its own invoke), a static UNKNOWN_BUILTIN /
    UNRESOLVED_CUSTOM_OP no longer blocks that target; with no target left it becomes a
    warning that says the static data disagreed with the runtime."""
    clean = {t for t, p in probes.items() if p is not None and p.status == "ok" and not (p.note or "").startswith("invoke not")}
    if not clean:
        return findings
    out = []
    for f in findings:
        if f.code in (Code.UNKNOWN_BUILTIN, Code.UNRESOLVED_CUSTOM_OP) and clean & set(f.targets):
            left = tuple(t for t in f.targets if t not in clean)
            ran = ", ".join(sorted(clean & set(f.targets)))
            f = dataclasses.replace(f, targets=left, severity="error" if left else "warning",
                                    message=f"{f.message} (but the runtime ran the model on {ran})",
                                    detail={**f.detail, "runtime_disagrees": sorted(clean & set(f.targets))})
        out.append(f)
    return out


EXPLOSION_TEXT = {
    "slices": "one per slice of {source}: an unrolled per-step map (the pattern Keras 3 TimeDistributed emits)",
    "loop": "each reading a tensor computed from the previous one's input: a loop in the layer's own code "
            "(e.g. per octave or per scale), not an unroll by the converter",
    "shared": "sharing one set of weights across parallel branches",
}


def explosion_finding(e) -> Finding:
    """OP_EXPLOSION for one `mapping.Explosion`: a warning for `slices` (the graph grows with
    the step count; a RESHAPE around one node does the same work), info for the others."""
    td = "time_distributed" in e.layer.lower()
    text = EXPLOSION_TEXT[e.pattern].format(source=repr(e.source) if e.source else "one tensor")
    if e.pattern == "slices" and td:
        text = "a Keras 3 TimeDistributed unroll, one per time step"
    return Finding(
        Code.OP_EXPLOSION, "warning" if e.pattern == "slices" else "info",
        f"layer {e.layer} expanded into {e.count} identical {e.op} nodes, {text}",
        op=e.op, layer=e.layer,
        detail={"count": e.count, "pattern": e.pattern, "source": e.source,
                "nodes": [list(k) for k in e.nodes]},
    )


def dynamic_finding(tensors: Sequence[TensorInfo], facts: GraphFacts) -> list[Finding]:
    """DYNAMIC_SHAPE for tensors that stay dynamic (after `--input-shape`, see `opaudit.shapes`)."""
    dyn = [t for t in tensors if facts.is_dynamic(t)]
    if not dyn:
        return []
    fixed = "" if facts.dynamic is None else " even with the given --input-shape"
    return [Finding(
        Code.DYNAMIC_SHAPE, "warning",
        f"{len(dyn)} tensors have dynamic shapes{fixed} (e.g. {dyn[0].name!r} {list(dyn[0].shape_signature or ())}): "
        "the GPU delegate needs static shapes; the CPU runtime resizes at allocate",
        detail={"tensors": [[t.subgraph, t.index] for t in dyn[:50]], "count": len(dyn)},
    )]


# The TF op a fused CONV_2D's own name ends in (`.../mrcnn_class_conv1_1/convolution1`).
_CONV_OP_NAME = re.compile(r"^(convolution|conv2d)(_?\d+)?$", re.IGNORECASE)


def full_window_conv_findings(operators: Sequence[Operator], tensors: Mapping[NodeKey, TensorInfo]) -> list[Finding]:
    """FULL_WINDOW_CONV (info, a speed hint) for every CONV_2D whose kernel covers its whole input.

    Input `[N, H, W, C]`, filter `[O, kh, kw, C]` with static `kh == H`, `kw == W` (and `C`), output
    `[N, 1, 1, O]`: the one output pixel is the product of `x` as `[N, H*W*C]` with the kernel
    as `[H*W*C, O]`, which FULLY_CONNECTED computes (rule `full_window_conv`). `tensors` is keyed
    by (subgraph, tensor index). `layer` is the layer of the convolution itself, read from the
    fused output name (a conv+BN+ReLU node is named after the activation first);
    `detail.tf_name` is that convolution's scoped name.
    """
    keras3 = detect_keras3([o.tf_name for o in operators if o.tf_name])
    out = []
    for op in operators:
        shapes = _full_window_shapes(op, tensors)
        if shapes is None:
            continue
        x, k = shapes
        name = next((n for n in (op.node_name or "").split(";") if _CONV_OP_NAME.match(n.rsplit("/", 1)[-1])),
                    op.tf_name)
        layer = (layer_of(name, keras3) if name else None) or op.layer
        out.append(Finding(
            Code.FULL_WINDOW_CONV, "info",
            f"CONV_2D at layer {layer or '?'}: its {k[1]}x{k[2]} kernel covers the whole {x[1]}x{x[2]} input; "
            "as one FULLY_CONNECTED it is the same sums (rule full_window_conv)",
            subgraph=op.subgraph, index=op.index, op=op.op, layer=layer,
            detail={"input": list(x), "kernel": list(k), "tf_name": name},
        ))
    return out


def _full_window_shapes(op: Operator, tensors: Mapping[NodeKey, TensorInfo]):
    """(input dims, kernel dims) of a full-window CONV_2D, else None. Dims are the shape
    signature (-1 = dynamic); H, W and C must be static, N may be dynamic."""
    if op.op != "CONV_2D" or len(op.inputs) < 2 or not op.outputs:
        return None
    found = [tensors.get((op.subgraph, t)) for t in (op.inputs[0], op.inputs[1], op.outputs[0])]
    if any(t is None for t in found):
        return None
    x, k, y = (tuple(t.shape_signature if t.shape_signature is not None else t.shape) for t in found)
    if not (len(x) == len(k) == len(y) == 4) or min(x[1:]) <= 0 or min(k) <= 0:
        return None
    if k[1:] != x[1:] or y[1:] != (1, 1, k[0]):
        return None
    return x, k


@dataclass
class Inputs:
    """Everything `analyze()` reads, from `inspect_model()`.

    `probes`: target -> ProbeResult (`cpu` = stock kernels, `xnnpack` = default runtime).
    `flops`: per node FLOPs. `static_facts`: GraphFacts as if every dynamic dim were fixed.
    """

    operators: Sequence[Operator]
    tensors: Sequence[TensorInfo]
    graph_outputs: set[NodeKey]
    support_fn: SupportFn
    explosions: Sequence = ()
    probes: Mapping[str, ProbeResult] = field(default_factory=dict)
    facts: GraphFacts = NO_FACTS
    static_facts: GraphFacts | None = None
    flops: Mapping[NodeKey, int] = field(default_factory=dict)


@dataclass
class Analysis:
    findings: list[Finding]
    supports: dict[NodeKey, dict[str, Support]]
    delegation: dict[str, DelegationReport]


def analyze(inp: Inputs) -> Analysis:
    """All findings for a parsed model, per-node support and per-delegate partitions."""
    by_sub: dict[int, list[TensorInfo]] = defaultdict(list)
    for t in inp.tensors:
        by_sub[t.subgraph].append(t)
    ops = inp.operators
    supports = {(o.subgraph, o.index): inp.support_fn(o, by_sub[o.subgraph], inp.facts) for o in ops}
    delegation = delegations(inp, supports, by_sub)
    taken: dict[NodeKey, list[str]] = defaultdict(list)
    for t in DELEGATES:
        for n in delegation[t].nodes:
            if n.delegated:
                taken[(n.subgraph, n.index)].append(t)
    findings: list[Finding] = []
    for o in ops:
        findings += node_findings(o, supports[(o.subgraph, o.index)], taken.get((o.subgraph, o.index), ()))
    consumed = {(o.subgraph, t) for o in ops for t in o.inputs}
    findings += nms_padding_findings(ops, consumed, inp.graph_outputs)
    errors = {(f.subgraph, f.index) for f in findings if f.severity == "error" and f.index is not None}
    findings += delegate_findings(ops, delegation, errors)
    findings += dynamic_finding(inp.tensors, inp.facts)
    findings += [explosion_finding(e) for e in inp.explosions]
    findings += full_window_conv_findings(ops, {(t.subgraph, t.index): t for t in inp.tensors})
    stock, default = inp.probes.get("cpu"), inp.probes.get("xnnpack")
    gpu_taken = {k for k, ts in taken.items() if "gpu" in ts}
    findings = probe_findings(stock, ops, findings, _stock_targets(stock, gpu_taken))
    findings = probe_findings(default, ops, findings, ("xnnpack",))
    return Analysis(runtime_overrides(findings, inp.probes), supports, delegation)


def _stock_targets(stock: ProbeResult | None, gpu_taken: set[NodeKey]) -> tuple[str, ...]:
    node = (stock.failed_node or {}) if stock else {}
    if node and (0, node.get("index")) in gpu_taken:
        return ("cpu",)
    return ("cpu", "gpu")


def delegations(inp: Inputs, supports, by_sub) -> dict[str, DelegationReport]:
    """`DelegationReport` per delegate: XNNPACK measured on subgraph 0 when the default run
    reached allocate, GPU predicted (no GPU delegate in the pip runtimes)."""
    alt = None
    if inp.static_facts is not None:
        alt = {(o.subgraph, o.index): inp.support_fn(o, by_sub[o.subgraph], inp.static_facts) for o in inp.operators}
    default = inp.probes.get("xnnpack")
    measured = None
    if default is not None and default.status in ("ok", "invoke_failed"):
        sg0 = [o for o in inp.operators if o.subgraph == 0]
        measured = members_of(sg0, default.delegate_nodes, len(sg0))
    return {
        "xnnpack": delegation_report("xnnpack", inp.operators, supports, inp.flops, measured, alt),
        "gpu": delegation_report("gpu", inp.operators, supports, inp.flops, None, alt),
    }
