"""Pure aggregation of the worker's raw timings into a `Profile` (no runtime, no I/O).

Inputs are the worker's JSON (`opaudit/profile/worker.py`), the model's operators with their
Keras layers (`inspect_model(..., probe=False).operators`) and a FLOP counter per operator.
A control-flow node (WHILE, IF, ...) is timed with everything it calls; its FLOPs are those of
the subgraphs it calls, counted once (a loop body's iterations are not known statically), so
they are a lower bound and say so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from opaudit.findings import Operator
from opaudit.profile.result import GroupTime, NodeTime, Profile, Trust, WholeModelTime


def node_times(raw: dict[str, Any], ops: Sequence[Operator], flops: Callable[[Operator], int]) -> list[NodeTime]:
    """Join the worker's per-node rows (subgraph 0) with ops, layers and FLOPs.

    A row's `calls` lists every subgraph the node runs, transitively (the worker's closure)."""
    by_key = {(o.subgraph, o.index): o for o in ops}
    out = []
    for r in raw.get("nodes", []):
        op = by_key.get((0, r["index"]))
        n = NodeTime(subgraph=0, index=r["index"], op=op.op if op else "?", layer=op.layer if op else None,
                     tf_name=op.tf_name if op else None, flops=flops(op) if op else 0,
                     seconds=dict(r.get("seconds") or {}), exact=r.get("exact"),
                     max_abs_diff=r.get("max_abs_diff"), delegated=r.get("delegated"),
                     calls=list(r.get("calls") or []), error=r.get("error"))
        if n.calls:
            called = set(n.calls)
            n.flops += sum(flops(o) for o in ops if o.subgraph in called)
            n.flops_note = f"runs subgraph(s) {', '.join(map(str, n.calls))}: their FLOPs counted once"
        out.append(n)
    return out


def group(nodes: Sequence[NodeTime], key: Callable[[NodeTime], str | None], primary: str,
          peak_gflops: float, ceiling: float | None = None) -> list[GroupTime]:
    """Sum nodes by `key` (None keys dropped), largest primary-mode time first."""
    acc: dict[str, dict[str, Any]] = defaultdict(lambda: {"n": 0, "s": defaultdict(float), "f": 0})
    total = sum(n.seconds.get(primary, 0.0) for n in nodes)
    for n in nodes:
        k = key(n)
        if k is None:
            continue
        a = acc[k]
        a["n"] += 1
        a["f"] += n.flops
        for mode, s in n.seconds.items():
            a["s"][mode] += s
    out = []
    for name, a in acc.items():
        s = a["s"].get(primary, 0.0)
        rate = a["f"] / s / 1e9 if a["f"] and s > 0 else None
        out.append(GroupTime(name=name, nodes=a["n"], seconds=dict(a["s"]), share=s / total if total else 0.0,
                             flops=a["f"], gflops_per_s=rate,
                             over_peak=rate / peak_gflops if rate is not None and peak_gflops else None,
                             over_ceiling=rate / ceiling if rate is not None and ceiling else None))
    out.sort(key=lambda g: -g.seconds.get(primary, 0.0))
    return out


def trust(nodes: Sequence[NodeTime], whole: Sequence[WholeModelTime], threads: int, modes: Sequence[str],
          overhead: dict[str, float]) -> list[Trust]:
    """Per mode: node-time sum (invoke overhead subtracted) against the whole model's time."""
    out = []
    for mode in modes:
        total = sum(max(0.0, n.seconds[mode] - overhead.get(mode, 0.0)) for n in nodes if mode in n.seconds)
        w = next((x.median_s for x in whole if x.mode == mode and x.threads == threads), None)
        compared = [n for n in nodes if n.exact is not None]
        out.append(Trust(mode=mode, node_sum_s=total, whole_s=w, ratio=total / w if w else None,
                         exact_nodes=sum(bool(n.exact) for n in compared), compared_nodes=len(compared),
                         untimed_nodes=sum(mode not in n.seconds for n in nodes)))
    return out


def recommend(whole: Sequence[WholeModelTime]) -> dict[str, Any]:
    """The fastest measured whole-model setting, with its speed-up over the runtime default
    (1 thread, XNNPACK on: what `Interpreter(model_path=...)` does when not told)."""
    if not whole:
        return {}
    best = min(whole, key=lambda w: w.median_s)
    default = next((w for w in whole if w.threads == 1 and w.mode == "xnnpack"), None)
    return {"num_threads": best.threads, "xnnpack": best.mode == "xnnpack", "median_s": best.median_s,
            "speedup_over_default": default.median_s / best.median_s if default else None}


def build_profile(raw: dict[str, Any], ops: Sequence[Operator], flops: Callable[[Operator], int], *,
                  path: str, peak: tuple[float, str], top: int, conditions: dict[str, Any]) -> Profile:
    """The `Profile` of one worker run (`raw`): nodes, groups, hot spots, trust, recommendation."""
    modes = list(raw.get("modes") or [])
    primary = "xnnpack" if "xnnpack" in modes else (modes[0] if modes else "xnnpack")
    nodes = node_times(raw, ops, flops)
    whole = [WholeModelTime(**{k: w[k] for k in WholeModelTime.__dataclass_fields__}) for w in raw.get("whole", [])]
    timed = [n for n in nodes if primary in n.seconds]
    threads = raw.get("threads", 1)
    ceil = next((c["gflops"] for c in raw.get("ceiling", []) if c["threads"] == threads and c["mode"] == primary), None)
    return Profile(
        path=path, runtime=raw.get("runtime", "?"), threads=threads, runs=raw.get("runs", 0),
        modes=modes, primary=primary, peak_gflops=peak[0], peak_how=peak[1], ceiling_gflops=ceil,
        total_flops=sum(flops(o) for o in ops), whole=whole, recommended=recommend(whole),
        trust=trust(nodes, whole, threads, modes, raw.get("overhead_s") or {}) if nodes else [],
        nodes=nodes, op_types=group(nodes, lambda n: n.op, primary, peak[0], ceil),
        layers=group(nodes, lambda n: n.layer or "(no layer)", primary, peak[0], ceil)[:top],
        hotspots=sorted(timed, key=lambda n: -n.seconds[primary])[:top],
        nested_nodes=sum(1 for o in ops if o.subgraph != 0), overhead_s=raw.get("overhead_s") or {},
        ceilings=list(raw.get("ceiling") or []),
        capture_s=raw.get("capture_s"), inputs=raw.get("inputs") or [], conditions=conditions)


def runtime_settings(prof: Profile) -> dict[str, Any]:
    """What `fix.json["runtime"]` records: the fastest measured setting and what was measured."""
    return {"recommended": prof.recommended, "runtime": prof.runtime,
            "measured": [{"threads": w.threads, "mode": w.mode, "median_s": w.median_s} for w in prof.whole],
            "runs": prof.runs, "conditions": prof.conditions,
            "note": "median invoke() seconds of the whole model in ai_edge_litert, seeded inputs; the runtime "
                    "default is num_threads=1 with XNNPACK; timings on a shared machine vary with its load"}
