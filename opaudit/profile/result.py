"""What `profile_model` returns: plain dataclasses; `Profile.to_dict()` is the JSON form.

Times are seconds (medians over `runs` invokes after a warm-up), per runtime mode: `xnnpack`
(the default resolver, XNNPACK delegate applied) and `builtin` (builtin kernels only). FLOPs
count 2 per multiply-accumulate of CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV, FULLY_CONNECTED
and BATCH_MATMUL (`opaudit.flops`); other ops count 0, so their GFLOP/s is None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opaudit.findings import to_jsonable


@dataclass
class NodeTime:
    """One node of the main subgraph, timed alone with its captured inputs.

    `exact`: its builtin-mode outputs alone equal the outputs it had inside the full model
    (None when not compared); `delegated`: XNNPACK took the node when alone; `calls`: the
    subgraphs it runs (WHILE/IF bodies: their nodes are timed inside this node);
    `flops_note`: why `flops` is a lower bound, if it is.
    """

    subgraph: int
    index: int
    op: str
    layer: str | None
    tf_name: str | None
    flops: int
    seconds: dict[str, float] = field(default_factory=dict)
    exact: bool | None = None
    max_abs_diff: float | None = None
    delegated: bool | None = None
    calls: list[int] = field(default_factory=list)
    flops_note: str | None = None
    error: str | None = None


@dataclass
class GroupTime:
    """Nodes summed by op type or by Keras layer (`name`), in one mode's seconds."""

    name: str
    nodes: int
    seconds: dict[str, float]
    share: float  # of the node-time sum, primary mode
    flops: int
    gflops_per_s: float | None  # achieved, primary mode; None without counted FLOPs
    over_peak: float | None  # gflops_per_s / nominal peak
    over_ceiling: float | None = None  # gflops_per_s / measured ceiling (same threads, primary mode)


@dataclass
class WholeModelTime:
    """The whole model, median of `runs` invokes, for one (threads, mode) setting."""

    threads: int
    mode: str
    median_s: float
    runs_s: list[float]
    delegate_partitions: int


@dataclass
class Trust:
    """How far the per-node figures can be believed, per mode.

    `ratio` = sum of node times / measured whole-model time at the same threads; 1.0 means
    the parts add up. They differ because XNNPACK fuses and partitions differently in the
    whole graph than around one node, caches stay warm across a node's repeats, and the
    whole model's memory planner reuses buffers.
    """

    mode: str
    node_sum_s: float
    whole_s: float | None
    ratio: float | None
    exact_nodes: int
    compared_nodes: int
    untimed_nodes: int


@dataclass
class Profile:
    """The per-node latency profile of one `.tflite`."""

    path: str
    runtime: str
    threads: int
    runs: int
    modes: list[str]
    primary: str  # the mode used for ranking and GFLOP/s
    peak_gflops: float
    peak_how: str
    ceiling_gflops: float | None  # measured: large FULLY_CONNECTED, primary mode, `threads`
    total_flops: int  # with the tensor shapes of the profiled run (dynamic dims resolved)
    whole: list[WholeModelTime] = field(default_factory=list)
    recommended: dict[str, Any] = field(default_factory=dict)  # fastest whole-model setting
    trust: list[Trust] = field(default_factory=list)
    nodes: list[NodeTime] = field(default_factory=list)
    op_types: list[GroupTime] = field(default_factory=list)
    layers: list[GroupTime] = field(default_factory=list)
    hotspots: list[NodeTime] = field(default_factory=list)
    nested_nodes: int = 0  # nodes in called subgraphs, timed inside their control-flow node
    overhead_s: dict[str, float] = field(default_factory=dict)
    ceilings: list[dict[str, Any]] = field(default_factory=list)  # {threads, mode, gflops}
    capture_s: float | None = None
    inputs: list[dict[str, Any]] = field(default_factory=list)
    seconds: float | None = None
    conditions: dict[str, Any] = field(default_factory=dict)  # cores, load average when run
    static_flops: int | None = None  # `opaudit.flops` from the file's shapes (dynamic dims = 1)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)
