"""Findings as plain data.

Everything `opaudit` learns about a model ends up in the dataclasses below. Renderers
(terminal, JSON, HTML) and the `fix` loop only ever read these; nothing here imports
TensorFlow or the runtime. `to_dict()` gives the stable JSON form documented in
`docs/json-schema.md` (schema version `SCHEMA_VERSION`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

SCHEMA_VERSION = 1

Kind = Literal["builtin", "custom", "flex"]
Severity = Literal["error", "warning", "info"]
Target = Literal["cpu", "xnnpack", "gpu"]
TARGETS: tuple[str, ...] = ("cpu", "xnnpack", "gpu")
DELEGATES: tuple[str, ...] = ("xnnpack", "gpu")
Source = Literal["measured", "predicted"]
NodeKey = tuple[int, int]  # (subgraph, operator index)


class Code:
    """Finding codes. Stable strings: rules in `rewrites/` declare which codes they answer."""

    FLEX_OP = "FLEX_OP"  # Select-TF op: no pip runtime links the Flex delegate.
    UNRESOLVED_CUSTOM_OP = "UNRESOLVED_CUSTOM_OP"  # custom op with no kernel in the stock runtime.
    UNKNOWN_BUILTIN = "UNKNOWN_BUILTIN"  # builtin code this runtime does not know.
    PROBE_LOAD_FAILED = "PROBE_LOAD_FAILED"
    PROBE_PREPARE_FAILED = "PROBE_PREPARE_FAILED"
    PROBE_INVOKE_FAILED = "PROBE_INVOKE_FAILED"
    PROBE_CRASHED = "PROBE_CRASHED"  # the runtime killed its process (segfault, abort).
    PROBE_TIMEOUT = "PROBE_TIMEOUT"
    NMS_PADDED_OUTPUT = "NMS_PADDED_OUTPUT"  # silently changed semantics of NMS V3 -> V4 padding.
    OP_EXPLOSION = "OP_EXPLOSION"  # one Keras layer unrolled into many identical nodes.
    GPU_UNSUPPORTED = "GPU_UNSUPPORTED"  # node not delegated to the GPU delegate.
    XNNPACK_UNSUPPORTED = "XNNPACK_UNSUPPORTED"  # node not delegated to XNNPACK (falls back to CPU).
    DYNAMIC_SHAPE = "DYNAMIC_SHAPE"  # dynamic tensor shapes (block GPU delegation).
    CONVERTER_ERROR = "CONVERTER_ERROR"  # the converter refused an op (fix loop only).
    CONVERTER_TIMEOUT = "CONVERTER_TIMEOUT"
    TENSOR_LIST_OPS = "TENSOR_LIST_OPS"  # dynamic map_fn / TensorList lowering failure.
    PARITY_FAILED = "PARITY_FAILED"
    FULL_WINDOW_CONV = "FULL_WINDOW_CONV"  # speed hint: a CONV_2D whose kernel covers its whole input.


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of a subgraph. `shape` has -1 where `shape_signature` is dynamic."""

    subgraph: int
    index: int
    name: str
    dtype: str  # "float32", "int32", ... (lower-case numpy-style name)
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...] | None
    buffer: int  # index into Model.buffers (0 = no data)
    buffer_size: int  # bytes of constant data, 0 for activations
    quantization: dict[str, Any] | None = None  # {"scale": [...], "zero_point": [...], "axis": int}
    is_variable: bool = False

    @property
    def is_dynamic(self) -> bool:
        return self.shape_signature is not None and any(d < 0 for d in self.shape_signature)


@dataclass(frozen=True)
class Operator:
    """One node of a subgraph, normalized.

    `op` is the builtin name (`CONV_2D`, from max(builtin_code, deprecated_builtin_code)) or the
    custom code (`FlexCropAndResize`, `NonMaxSuppressionV3`). `tf_op` is the TensorFlow op type
    when known (`CropAndResize` for a Flex op, the custom code for a custom op).
    `node_name` is the NodeDef name embedded in Flex custom options, or else the name of the
    first output tensor. `layer` is the Keras layer path this node came from (`ROI`,
    `rpn_model/rpn_conv_shared`) and `layer_source` says how we know it.
    """

    subgraph: int
    index: int
    op: str
    kind: Kind
    version: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    tf_op: str | None = None
    node_name: str | None = None
    layer: str | None = None
    # How `layer` was found: the node's own debug location, Flex NodeDef, output tensor name, or
    # (weakest) the agreeing layer of its input tensors.
    layer_source: Literal["debug_metadata", "flex_nodedef", "tensor_name", "inputs"] | None = None
    tf_name: str | None = None  # full TF op name when known (`model/ROI/NonMaxSuppressionV3`)


@dataclass(frozen=True)
class Support:
    """Support of one op on one target. `status`: yes | no | partial (constraint-dependent) | unknown."""

    status: Literal["yes", "no", "partial", "unknown"]
    reason: str = ""


@dataclass(frozen=True)
class Finding:
    """Something the user must know. `targets` are the targets on which it stops the model running.

    Node-level findings carry `subgraph`/`index`/`op`/`layer`; model-level ones leave them None.
    """

    code: str
    severity: Severity
    message: str  # one line, plain words
    subgraph: int | None = None
    index: int | None = None
    op: str | None = None
    layer: str | None = None
    targets: tuple[str, ...] = ()
    error: str | None = None  # the runtime's or converter's own error text
    detail: dict[str, Any] = field(default_factory=dict)

    def blocks(self, target: str) -> bool:
        return self.severity == "error" and target in self.targets

    def nodes(self) -> list[NodeKey]:
        """Every node this finding is about: `detail["nodes"]` for a grouped finding (one
        finding for many nodes of one op), else its own node, else none (model-level)."""
        grouped = self.detail.get("nodes") if isinstance(self.detail, dict) else None
        if grouped:
            return [(int(n[0]), int(n[1])) for n in grouped]
        return [(self.subgraph or 0, self.index)] if self.index is not None else []


@dataclass(frozen=True)
class ProbeResult:
    """What the isolated interpreter run did.

    status: ok | load_failed | prepare_failed | invoke_failed | crashed | timeout | skipped.
    `failed_node` is the node the runtime named (it names only the first one).
    """

    status: str
    runtime: str  # "ai_edge_litert 2.3.0"
    stage: str | None = None  # load | allocate | invoke
    error: str | None = None
    failed_node: dict[str, Any] | None = None  # {"subgraph", "index", "op"}
    inputs: tuple[dict[str, Any], ...] = ()  # {"name", "shape", "dtype"} fed to invoke()
    outputs: tuple[dict[str, Any], ...] = ()  # {"name", "shape", "dtype"} after invoke()
    seconds: float = 0.0
    exit_signal: int | None = None
    # Which op resolver ran: "stock" (BUILTIN_WITHOUT_DEFAULT_DELEGATES, the `cpu` target) or
    # "default" (the pip runtime as users call it: XNNPACK applied, the `xnnpack` target).
    resolver: str = "stock"
    # "default" only: the delegate nodes the runtime added to subgraph 0 after allocate,
    # [{"index", "inputs", "outputs"}] (tensor indices); see `opaudit.delegation`.
    delegate_nodes: tuple[dict[str, Any], ...] = ()
    note: str | None = None  # how a figure was obtained when it is not plain (e.g. invoke)


@dataclass(frozen=True)
class NodeDelegation:
    """Whether one node runs inside a delegate partition, and how we know.

    `source`: "measured" (the runtime's own delegate nodes; subgraph 0 of XNNPACK) or
    "predicted" (static rules, `opaudit.support`). `reason` says why a node is not taken.
    """

    subgraph: int
    index: int
    op: str
    delegated: bool
    source: Source
    reason: str = ""
    partition: int | None = None  # index into DelegationReport.partitions
    conditional: bool = False  # predicted "partial": taken only under a condition (quantized path, ...)


@dataclass(frozen=True)
class Partition:
    """A run of delegated nodes the delegate replaces by one kernel (a DELEGATE node)."""

    index: int
    subgraph: int
    nodes: tuple[NodeKey, ...]
    flops: int = 0
    source: Source = "predicted"


@dataclass(frozen=True)
class DelegationReport:
    """Per target: what the delegate takes, in how many pieces, and a one-word verdict.

    `verdict`: yes | maybe | no, by `rule` (stated in plain words). `node_share` and
    `flop_share` are delegated / all (FLOPs of CONV/FC/matmul-like nodes, `opaudit.flops`).
    `splitters` are non-delegated nodes with delegated nodes both upstream and downstream:
    each one cuts a partition in two. `if_static` repeats the figures as if every dynamic
    dimension were fixed (`--input-shape` for every dynamic input), or is None when nothing
    would change.
    """

    target: str
    source: Source  # "measured" when any node's verdict is measured
    nodes: tuple[NodeDelegation, ...]
    partitions: tuple[Partition, ...]
    node_share: float
    flop_share: float
    splitters: tuple[NodeKey, ...]
    verdict: Literal["yes", "maybe", "no"]
    rule: str
    if_static: dict[str, Any] | None = None

    @property
    def delegated_count(self) -> int:
        return sum(n.delegated for n in self.nodes)


@dataclass(frozen=True)
class SubgraphInfo:
    index: int
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    num_operators: int
    num_tensors: int


@dataclass
class ModelReport:
    """The whole audit of one `.tflite` file: what `inspect_model()` returns."""

    path: str
    size: int
    sha256: str
    version: int  # schema version in the file
    description: str
    subgraphs: list[SubgraphInfo]
    operators: list[Operator]
    tensors: list[TensorInfo]
    signatures: list[dict[str, Any]]
    metadata: dict[str, Any]  # name -> summary ({"size": n} or decoded value)
    min_runtime_version: str | None
    support: dict[str, dict[str, Support]]  # op -> target -> Support
    findings: list[Finding]
    probe: ProbeResult | None
    target: str = "cpu"
    tool: dict[str, str] = field(default_factory=dict)  # {"opaudit": ver, "support_data": "tf 2.21.0", ...}
    # target -> the runtime run that measured it: "cpu" = stock kernels (same as `probe`),
    # "xnnpack" = the default runtime with XNNPACK applied.
    runtime_probes: dict[str, ProbeResult] = field(default_factory=dict)
    delegation: dict[str, DelegationReport] = field(default_factory=dict)  # xnnpack / gpu

    def blocking(self, target: str | None = None) -> list[Finding]:
        t = target or self.target
        return [f for f in self.findings if f.blocks(t)]

    def blocked_nodes(self, target: str | None = None) -> list[NodeKey]:
        """Distinct nodes that a blocking finding names on `target` (grouped findings expanded).
        Every report card (terminal, JSON `counts`, HTML) counts these."""
        return sorted({k for f in self.blocking(target) for k in f.nodes()})

    def verdict_sources(self) -> dict[str, str]:
        """Per target: "measured" when a runtime run decided it (the probe's stock run for
        `cpu`, its default run for `xnnpack`), else "predicted" (static rules; `gpu` always)."""
        return {t: "measured" if self.runtime_probes.get(t) is not None else "predicted" for t in TARGETS}

    def counts(self) -> dict[str, dict[str, int]]:
        """Per target: nodes, blocked nodes, blocking findings (nodes are what cards show)."""
        out = {}
        for t in TARGETS:
            row = {"nodes": len(self.operators), "blocked_nodes": len(self.blocked_nodes(t)),
                   "blocking_findings": len(self.blocking(t))}
            if t in self.delegation:
                d = self.delegation[t]
                row |= {"delegated_nodes": d.delegated_count, "partitions": len(d.partitions)}
            out[t] = row
        return out

    def verdicts(self) -> dict[str, str]:
        """Plain-words verdict per target, plus `flex` and overall ("runs" / "cannot run")."""
        out = {}
        for t in TARGETS:
            out[t] = "blocked" if self.blocking(t) else "runs"
        out["needs_flex"] = "yes" if any(o.kind == "flex" for o in self.operators) else "no"
        return out

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)


def to_jsonable(obj: Any) -> Any:
    """Dataclasses -> dicts, tuples -> lists, recursively (stable JSON form)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        d = {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        if isinstance(obj, ModelReport):
            d = {"schema_version": SCHEMA_VERSION, **d, "verdicts": obj.verdicts(),
                 "verdict_sources": obj.verdict_sources(), "counts": obj.counts()}
        return d
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    return obj
