"""What a delegate takes: per node (measured or predicted), partitions, coverage, a verdict.

Measured (XNNPACK, subgraph 0): the default interpreter appends one DELEGATE node per
partition after `allocate_tensors()`; its inputs are the tensors the partition reads from
outside, its outputs the ones it hands back. The original nodes it replaced are the ones
between the two: walking back from its outputs through producers, stopping at its inputs,
at constants and at graph inputs (`members_of`). Every other node of subgraph 0 runs on the
CPU kernels. Nodes of other subgraphs, and every node when the runtime could not be asked,
are predicted from the static rules (`opaudit.support`).

Predicted partitions follow the runtime's partitioner: nodes are taken in dependency order,
as many delegated nodes as are ready, then as many non-delegated ones, alternating
(`partition_groups`); every delegated group is one partition. A non-delegated group between
two delegated ones splits them (`splitters`).

Verdict (stated in `RULE`): `yes` every node delegated, in one partition per subgraph, none
of them conditional; `maybe` at least 80 % of the FLOPs (of the nodes, when the model has no
counted FLOPs) delegated in at most 3 partitions, or everything delegated but some nodes only
under a condition (quantized path, option); `no` otherwise.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence

from opaudit.findings import DelegationReport, NodeDelegation, NodeKey, Operator, Partition, Support

RULE = ("yes = every node delegated, one partition per subgraph, none conditional; maybe = at least 80% "
        "of FLOPs (of nodes if no FLOPs are counted) delegated in at most 3 partitions, or everything "
        "delegated with some nodes conditional; no = otherwise")
MAYBE_SHARE, MAYBE_PARTITIONS = 0.8, 3


def members_of(ops: Sequence[Operator], delegate_nodes: Sequence[Mapping], n_original: int) -> dict[int, int]:
    """`{node index: partition number}` for subgraph 0 from the runtime's DELEGATE nodes.

    Args:
      ops: subgraph 0's original nodes, in index order.
      delegate_nodes: `[{"index", "inputs", "outputs"}]` from the probe (tensor indices).
      n_original: number of original nodes; DELEGATE entries below it are model nodes.
    """
    producer = {t: op.index for op in ops for t in op.outputs if t >= 0}
    by_index = {op.index: op for op in ops}
    out: dict[int, int] = {}
    parts = [d for d in delegate_nodes if int(d["index"]) >= n_original]
    for p, d in enumerate(parts):
        stop = {int(t) for t in d["inputs"]}
        todo = [producer[t] for t in d["outputs"] if t in producer]
        while todo:
            n = todo.pop()
            if n in out:
                continue
            out[n] = p
            todo += [producer[t] for t in by_index[n].inputs if t >= 0 and t not in stop and t in producer]
    return out


def partition_groups(ops: Sequence[Operator], delegated: Callable[[Operator], bool]) -> list[tuple[bool, list[int]]]:
    """Alternating groups `[(delegated?, [node index, ...])]` of one subgraph, in dependency order."""
    if not ops:
        return []
    producer = {t: op.index for op in ops for t in op.outputs if t >= 0}
    succ: dict[int, list[int]] = defaultdict(list)
    indeg = {}
    for op in ops:
        preds = {producer[t] for t in op.inputs if t in producer and producer[t] != op.index}
        indeg[op.index] = len(preds)
        for p in preds:
            succ[p].append(op.index)
    kind = {op.index: delegated(op) for op in ops}
    ready: dict[bool, deque[int]] = {True: deque(), False: deque()}
    for op in ops:
        if indeg[op.index] == 0:
            ready[kind[op.index]].append(op.index)
    cur, groups = kind[ops[0].index], []
    while ready[True] or ready[False]:
        if not ready[cur]:
            cur = not cur
        group = []
        while ready[cur]:
            n = ready[cur].popleft()
            group.append(n)
            for s in succ[n]:
                indeg[s] -= 1
                if indeg[s] == 0:
                    ready[kind[s]].append(s)
        groups.append((cur, group))
        cur = not cur
    return groups


def splitters(groups: Sequence[tuple[bool, list[int]]]) -> list[int]:
    """Nodes of non-delegated groups that have a delegated group before and after them."""
    first = next((i for i, (d, _) in enumerate(groups) if d), None)
    last = max((i for i, (d, _) in enumerate(groups) if d), default=None)
    if first is None:
        return []
    return sorted(n for i, (d, nodes) in enumerate(groups) if not d and first < i < last for n in nodes)


def verdict(node_share: float, flop_share: float, has_flops: bool, n_partitions: int,
            n_subgraphs: int, conditional: int) -> str:
    """yes / maybe / no by `RULE`."""
    if node_share == 1.0 and n_partitions <= n_subgraphs and not conditional:
        return "yes"
    share = flop_share if has_flops else node_share
    if (share >= MAYBE_SHARE and n_partitions <= MAYBE_PARTITIONS) or node_share == 1.0:
        return "maybe"
    return "no"


def delegation_report(
    target: str,
    operators: Sequence[Operator],
    supports: Mapping[NodeKey, Mapping[str, Support]],
    flops: Mapping[NodeKey, int],
    measured: Mapping[int, int] | None = None,
    if_static: Mapping[NodeKey, Mapping[str, Support]] | None = None,
) -> DelegationReport:
    """The `DelegationReport` of one delegate target.

    Args:
      target: `xnnpack` | `gpu`.
      operators: every node (all subgraphs).
      supports: per node, target -> Support (static rules; "yes"/"partial" = delegated).
      flops: per node FLOPs (`opaudit.flops.node_flops`), 0 for uncounted ops.
      measured: `members_of(...)` when the runtime told which subgraph-0 nodes it took.
      if_static: per-node support recomputed as if every dynamic dim were fixed, or None.
    """
    nodes, parts = _node_verdicts(target, operators, supports, measured)
    rep = _summarize(target, operators, nodes, parts, flops, measured is not None)
    if if_static is not None and measured is None:
        alt_nodes, alt_parts = _node_verdicts(target, operators, if_static, None)
        alt = _summarize(target, operators, alt_nodes, alt_parts, flops, False)
        if (alt.verdict, len(alt.partitions), alt.node_share) != (rep.verdict, len(rep.partitions), rep.node_share):
            rep = _with_if_static(rep, alt)
    return rep


def _with_if_static(rep: DelegationReport, alt: DelegationReport) -> DelegationReport:
    import dataclasses

    return dataclasses.replace(rep, if_static={
        "verdict": alt.verdict, "partitions": len(alt.partitions), "node_share": alt.node_share,
        "flop_share": alt.flop_share, "delegated_nodes": alt.delegated_count})


def _node_verdicts(target, operators, supports, measured):
    """Per node NodeDelegation, and predicted/measured partitions as lists of NodeKeys."""
    out, parts = [], []
    by_sub: dict[int, list[Operator]] = defaultdict(list)
    for op in operators:
        by_sub[op.subgraph].append(op)
    for sg, ops in sorted(by_sub.items()):
        is_measured = measured is not None and sg == 0
        if is_measured:
            take = {op.index: op.index in measured for op in ops}
            groups = defaultdict(list)
            for n, p in measured.items():
                groups[p].append((0, n))
            sub_parts = [sorted(groups[p]) for p in sorted(groups)]
        else:
            take = {op.index: supports[(sg, op.index)][target].status in ("yes", "partial") for op in ops}
            sub_parts = [[(sg, n) for n in g] for d, g in partition_groups(ops, lambda o: take[o.index]) if d]
        where = {k: len(parts) + i for i, p in enumerate(sub_parts) for k in p}
        parts += sub_parts
        for op in ops:
            out.append(_one(target, op, supports[(sg, op.index)][target], take[op.index], is_measured,
                            where.get((sg, op.index))))
    return out, parts


def _one(target, op, static: Support, taken: bool, is_measured: bool, part) -> NodeDelegation:
    label = "XNNPACK" if target == "xnnpack" else "the GPU delegate"
    if not is_measured:
        reason = (static.reason if static.status == "partial" else "") if taken else (
            static.reason or f"not taken by {label}")
    elif taken:
        reason = ""
    elif static.status in ("yes", "partial"):
        reason = f"{label} left it to the CPU kernels at run time (the static rules expected it to be taken)"
    else:
        reason = f"{label} left it to the CPU kernels at run time; static rule: {static.reason or static.status}"
    return NodeDelegation(op.subgraph, op.index, op.op, taken, "measured" if is_measured else "predicted",
                          reason, part, conditional=taken and not is_measured and static.status == "partial")


def _summarize(target, operators, nodes, parts, flops, any_measured) -> DelegationReport:
    total = len(nodes) or 1
    delegated = [n for n in nodes if n.delegated]
    all_flops = sum(flops.values())
    taken_flops = sum(flops.get((n.subgraph, n.index), 0) for n in delegated)
    n_subs = len({op.subgraph for op in operators}) or 1
    conditional = sum(n.conditional for n in delegated)
    by_sub: dict[int, list[Operator]] = defaultdict(list)
    for op in operators:
        by_sub[op.subgraph].append(op)
    taken = {(n.subgraph, n.index) for n in delegated}
    split = [(sg, i) for sg, ops in sorted(by_sub.items())
             for i in splitters(partition_groups(ops, lambda o, sg=sg: (sg, o.index) in taken))]
    node_share = len(delegated) / total
    flop_share = taken_flops / all_flops if all_flops else node_share
    partitions = tuple(Partition(i, p[0][0], tuple(p), sum(flops.get(k, 0) for k in p),
                                 "measured" if any_measured and p[0][0] == 0 else "predicted")
                       for i, p in enumerate(parts) if p)
    v = verdict(node_share, flop_share, bool(all_flops), len(partitions), n_subs, conditional)
    return DelegationReport(target, "measured" if any_measured else "predicted", tuple(nodes), partitions,
                            round(node_share, 4), round(flop_share, 4), tuple(split), v, RULE)
