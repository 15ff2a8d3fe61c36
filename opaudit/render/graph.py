"""Neighbourhood of a node in a TFLite subgraph, laid out for an inline SVG.

Nodes are operators; an edge A -> B means an output tensor of A is an input tensor of B
(producer/consumer through `Operator.inputs` / `Operator.outputs`, same subgraph). The layout
is networkx's layered `multipartite_layout` over `topological_generations`; this module only
turns its unit coordinates into pixels. No markup is built here: the template draws the SVG
from the plain data returned, so every model-derived string goes through Jinja autoescape.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import networkx as nx

from opaudit.findings import Operator, TensorInfo

NODE_W = 168  # px, width of one node box
NODE_H = 40  # px
COL_GAP = 22  # px between boxes of one layer
ROW_GAP = 46  # px between layers
MARGIN = 12  # px around the drawing


@dataclass
class SubgraphIndex:
    """Producer/consumer maps of one subgraph: tensor index -> operator indices."""

    ops: dict[int, Operator]
    producer: dict[int, int]
    consumers: dict[int, list[int]]

    def neighbours(self, index: int) -> list[int]:
        """Operators sharing a tensor with `index` (producers first, then consumers)."""
        op = self.ops[index]
        seen: dict[int, None] = {}
        for t in op.inputs:
            p = self.producer.get(t)
            if p is not None and p != index:
                seen[p] = None
        for t in op.outputs:
            for c in self.consumers.get(t, ()):
                if c != index:
                    seen[c] = None
        return list(seen)


def index_subgraphs(operators: list[Operator]) -> dict[int, SubgraphIndex]:
    """Build one `SubgraphIndex` per subgraph in O(number of tensor uses)."""
    out: dict[int, SubgraphIndex] = {}
    for op in operators:
        sg = out.setdefault(op.subgraph, SubgraphIndex({}, {}, {}))
        sg.ops[op.index] = op
        for t in op.outputs:
            if t >= 0:
                sg.producer[t] = op.index
        for t in op.inputs:
            if t >= 0:
                sg.consumers.setdefault(t, []).append(op.index)
    return out


@dataclass
class GNode:
    index: int
    op: str
    layer: str
    x: float
    y: float
    role: str  # "center" | "blocked" | "normal"
    title: str  # full tooltip text (escaped by the template)


@dataclass
class GEdge:
    x1: float
    y1: float
    x2: float
    y2: float
    label: str  # tensor shape, e.g. "1x256x256x3"


@dataclass
class Neighbourhood:
    subgraph: int
    center: int
    width: int
    height: int
    nodes: list[GNode] = field(default_factory=list)
    edges: list[GEdge] = field(default_factory=list)
    hidden: int = 0  # neighbours within `hops` left out by the cap
    box_w: int = NODE_W
    box_h: int = NODE_H


def _collect(idx: SubgraphIndex, center: int, hops: int, cap: int) -> tuple[list[int], int]:
    """Breadth-first, closest nodes first; returns (kept nodes, count dropped by the cap)."""
    dist = {center: 0}
    queue = deque([center])
    order = [center]
    dropped = 0
    while queue:
        cur = queue.popleft()
        if dist[cur] >= hops:
            continue
        for n in idx.neighbours(cur):
            if n in dist:
                continue
            dist[n] = dist[cur] + 1
            if len(order) >= cap:
                dropped += 1
                continue
            order.append(n)
            queue.append(n)
    return order, dropped


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def _shape(t: TensorInfo | None) -> str:
    if t is None:
        return ""
    dims = t.shape_signature if t.shape_signature is not None else t.shape
    return "x".join(str(d) for d in dims) or "scalar"


def _generations(g: nx.DiGraph) -> list[list[int]]:
    """networkx topological generations, with each source moved down to just above its first
    consumer (a side input of the failing node sits next to it, not at the top)."""
    try:
        gens = list(nx.topological_generations(g))
    except nx.NetworkXUnfeasible:  # a cycle in a damaged file: fall back to execution order
        return [[n] for n in sorted(g.nodes)]
    layer = {n: i for i, gen in enumerate(gens) for n in gen}
    for n in list(layer):
        succ = list(g.successors(n))
        if g.in_degree(n) == 0 and succ:
            layer[n] = max(layer[n], min(layer[s] for s in succ) - 1)
    out: list[list[int]] = [[] for _ in range(max(layer.values()) + 1)]
    for n in sorted(layer):
        out[layer[n]].append(n)
    return [gen for gen in out if gen]


def _scale(v: float, pos: dict, axis: int, extent: int) -> float:
    """Map a layout coordinate to pixels: the layout's min..max -> first..last box centre."""
    vals = [p[axis] for p in pos.values()]
    lo, hi = min(vals), max(vals)
    box = NODE_W if axis == 0 else NODE_H
    first, last = MARGIN + box / 2, extent - MARGIN - box / 2
    if hi - lo < 1e-12:
        return round(float(first + last) / 2, 1)
    return round(float(first + (v - lo) / (hi - lo) * (last - first)), 1)


def neighbourhood(
    idx: SubgraphIndex,
    center: int,
    *,
    tensors: dict[tuple[int, int], TensorInfo],
    blocked: set[int],
    subgraph: int,
    hops: int = 2,
    cap: int = 40,
    per_row: int = 6,
) -> Neighbourhood:
    """Lay out the `hops`-neighbourhood of operator `center` (at most `cap` operators, at most
    `per_row` side by side).

    `tensors` maps (subgraph, tensor index) -> TensorInfo (for edge labels); `blocked` holds the
    operator indices of this subgraph that cannot run (drawn in the warning colour).
    Coordinates are pixels, origin top-left, boxes `NODE_W` x `NODE_H` centred on (x, y).
    """
    keep, dropped = _collect(idx, center, hops, cap)
    kept = set(keep)
    g = nx.DiGraph()
    g.add_nodes_from(sorted(kept))  # execution order gives a stable order within a layer
    edge_tensor: dict[tuple[int, int], int] = {}
    for i in keep:
        for t in idx.ops[i].outputs:
            for c in idx.consumers.get(t, ()):
                if c in kept and c != i:
                    g.add_edge(i, c)
                    edge_tensor.setdefault((i, c), t)
    generations = _generations(g)
    # a wide generation (fan-out) is folded into rows of at most `per_row` boxes
    generations = [gen[k:k + per_row] for gen in generations for k in range(0, len(gen), per_row)]
    for layer, nodes in enumerate(generations):
        for n in nodes:
            g.nodes[n]["layer"] = layer
    pos = nx.multipartite_layout(g, subset_key="layer", align="horizontal")

    widest = max(len(gen) for gen in generations)
    width = int(widest * (NODE_W + COL_GAP) - COL_GAP + 2 * MARGIN)
    height = int(len(generations) * (NODE_H + ROW_GAP) - ROW_GAP + 2 * MARGIN)
    # networkx spaces every layer with the same unit and centres it, so one linear map per axis
    # turns its coordinates into pixels (the widest layer / the layer count set the extent).
    coords = {n: (_scale(pos[n][0], pos, 0, width), _scale(pos[n][1], pos, 1, height)) for n in g.nodes}

    out = Neighbourhood(subgraph=subgraph, center=center, width=width, height=height, hidden=dropped)
    for n in g.nodes:
        op = idx.ops[n]
        role = "center" if n == center else ("blocked" if n in blocked else "normal")
        title = f"#{n} {op.op}" + (f"\nlayer: {op.layer}" if op.layer else "")
        if op.node_name:
            title += f"\nnode: {_short(op.node_name, 300)}"
        x, y = coords[n]
        out.nodes.append(GNode(n, _short(op.op, 22), _short(op.layer or "", 26), x, y, role, _short(title, 800)))
    for (a, b), t in edge_tensor.items():
        (x1, y1), (x2, y2) = coords[a], coords[b]
        # tensor shapes only on the failing node's own edges: elsewhere they pile up
        label = _short(_shape(tensors.get((subgraph, t))), 18) if center in (a, b) else ""
        out.edges.append(GEdge(x1, y1 + NODE_H / 2, x2, y2 - NODE_H / 2 - 3, label))
    return out
