"""Static analysis + probe -> findings.

The interpreter names only the first node that fails, and may pass `allocate_tensors()` and
fail in `invoke()` when a data-dependent op comes first. So every node is judged statically
(op kind, the stock runtime's kernels, delegate support) and the probe's verdict is folded in:
the node the runtime named gets the runtime's own error text; a failure that static analysis
did not predict becomes a finding of its own. Pure functions over plain data.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Callable, Sequence

from opaudit.findings import TARGETS, Code, Finding, Operator, ProbeResult, Support, TensorInfo

ALL = TARGETS
FLEX_RUNTIME_NOTE = (
    "no pip runtime (tf.lite.Interpreter, ai_edge_litert) links the Flex delegate in TF 2.21; "
    "on a device it needs the Select-TF-ops runtime"
)

SupportFn = Callable[[Operator, Sequence[TensorInfo]], dict[str, Support]]


def node_findings(op: Operator, support: dict[str, Support]) -> list[Finding]:
    """Findings that stop this node from running on the CPU runtime (and so everywhere)."""
    where = dict(subgraph=op.subgraph, index=op.index, op=op.op, layer=op.layer)
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
        return [Finding(
            Code.UNRESOLVED_CUSTOM_OP, "error",
            f"custom op {op.op}{scope} has no kernel in the stock runtime",
            targets=ALL, detail={"tf_op": op.tf_op, "tf_name": op.tf_name,
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


def delegate_findings(operators: Sequence[Operator], supports: dict[tuple[int, int], dict[str, Support]]) -> list[Finding]:
    """One finding per (target, op, reason) for nodes a delegate does not take.

    GPU: a node the GPU delegate does not take blocks the `gpu` target (policy: the whole graph
    delegated). XNNPACK: such nodes fall back to the CPU kernels, a warning only.
    """
    groups: dict[tuple[str, str, str], list[Operator]] = defaultdict(list)
    example: dict[tuple[str, str, str], str] = {}
    for op in operators:
        if op.kind != "builtin":
            continue  # already an error everywhere
        s = supports[(op.subgraph, op.index)]
        for target in ("gpu", "xnnpack"):
            if s.get(target, Support("unknown")).status == "no":
                # group by the kind of reason ("dynamic shape"), not its per-tensor detail
                key = (target, op.op, re.split(r"[:;]", s[target].reason, maxsplit=1)[0])
                groups[key].append(op)
                example.setdefault(key, s[target].reason)
    out = []
    for (target, name, kind), ops in sorted(groups.items()):
        reason = example[(target, name, kind)] if len(ops) == 1 else f"{kind} (e.g. {example[(target, name, kind)]})"
        layers = sorted({o.layer for o in ops if o.layer})
        code, sev, blocks = (
            (Code.GPU_UNSUPPORTED, "error", ("gpu",)) if target == "gpu"
            else (Code.XNNPACK_UNSUPPORTED, "warning", ())
        )
        verb = "not delegated to the GPU" if target == "gpu" else "not delegated to XNNPACK (runs on the CPU kernels)"
        out.append(Finding(
            code, sev, f"{len(ops)} x {name} {verb}: {reason or 'unsupported'}",
            op=name, targets=blocks, subgraph=ops[0].subgraph, index=ops[0].index,
            layer=layers[0] if len(layers) == 1 else None,
            detail={"nodes": [[o.subgraph, o.index] for o in ops], "layers": layers, "target": target},
        ))
    return out


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


def probe_findings(probe: ProbeResult | None, operators: Sequence[Operator], static: list[Finding]) -> list[Finding]:
    """Fold the probe into the static findings; returns the full list."""
    if probe is None or probe.status in ("ok", "skipped"):
        return static
    if probe.status in ("crashed", "timeout"):
        code = Code.PROBE_CRASHED if probe.status == "crashed" else Code.PROBE_TIMEOUT
        return static + [Finding(code, "error", f"interpreter probe {probe.status}: {probe.error}",
                                 targets=ALL, error=probe.error)]
    from opaudit.probe import parse_failed_nodes

    named = parse_failed_nodes(probe.error or "")
    code = {"load_failed": Code.PROBE_LOAD_FAILED, "prepare_failed": Code.PROBE_PREPARE_FAILED}.get(
        probe.status, Code.PROBE_INVOKE_FAILED)
    if not named:
        return static + [Finding(code, "error", f"the runtime failed at {probe.stage}: {probe.error}",
                                 targets=ALL, error=probe.error)]
    out = list(static)
    flagged = {(f.subgraph, f.index): i for i, f in enumerate(out) if f.index is not None and f.severity == "error"}
    for index, name, stage in named[:1]:  # innermost: the node that really failed
        cands = [o for o in operators if o.index == index and o.op == name]
        hit = next((o for o in cands if (o.subgraph, o.index) in flagged), cands[0] if cands else None)
        if hit is not None and (hit.subgraph, hit.index) in flagged:
            i = flagged[(hit.subgraph, hit.index)]
            f = out[i]
            out[i] = dataclasses.replace(f, error=probe.error, detail={**f.detail, "named_by_runtime": stage})
        else:
            out.append(Finding(
                code, "error", f"node {index} ({name}) failed to {stage} in the runtime",
                subgraph=hit.subgraph if hit else None, index=index, op=name,
                layer=hit.layer if hit else None, targets=ALL, error=probe.error,
                detail={"named_by_runtime": stage},
            ))
    return out


def analyze(
    operators: Sequence[Operator],
    tensors: Sequence[TensorInfo],
    graph_outputs: set[tuple[int, int]],
    support_fn: SupportFn,
    explosions: Sequence[tuple[str, str, int]] = (),
    probe: ProbeResult | None = None,
) -> tuple[list[Finding], dict[tuple[int, int], dict[str, Support]]]:
    """All findings for a parsed model, and per-node support.

    Args:
      operators: nodes with layers mapped.
      tensors: all tensors (every subgraph).
      graph_outputs: (subgraph, tensor) pairs that are subgraph outputs.
      support_fn: `support_for(op, subgraph_tensors)` from `opaudit.support`.
      explosions: `(layer, op, count)` from `mapping.explosions`.
      probe: the interpreter probe, if it ran.
    """
    by_sub: dict[int, list[TensorInfo]] = defaultdict(list)
    for t in tensors:
        by_sub[t.subgraph].append(t)
    supports = {(o.subgraph, o.index): support_fn(o, by_sub[o.subgraph]) for o in operators}
    findings: list[Finding] = []
    for o in operators:
        findings += node_findings(o, supports[(o.subgraph, o.index)])
    consumed = {(o.subgraph, t) for o in operators for t in o.inputs}
    findings += nms_padding_findings(operators, consumed, graph_outputs)
    findings += delegate_findings(operators, supports)
    dyn = [t for t in tensors if t.is_dynamic]
    if dyn:
        findings.append(Finding(
            Code.DYNAMIC_SHAPE, "warning",
            f"{len(dyn)} tensors have dynamic shapes (e.g. {dyn[0].name!r} {list(dyn[0].shape_signature or ())}): "
            "the GPU delegate needs static shapes; the CPU runtime resizes at allocate",
            detail={"tensors": [[t.subgraph, t.index] for t in dyn[:50]], "count": len(dyn)},
        ))
    for layer, name, n in explosions:
        findings.append(Finding(
            Code.OP_EXPLOSION, "warning",
            f"layer {layer} expanded into {n} identical {name} nodes (e.g. Keras 3 TimeDistributed unrolled per step)",
            op=name, layer=layer, detail={"count": n},
        ))
    return probe_findings(probe, operators, findings), supports
