"""What `run_fix` returns: typed results, shaped like `opaudit.findings`.

`FixResult.to_dict()` is the content of ``fix.json`` (documented in docs/fix-json.md, schema
version `SCHEMA_VERSION`). Findings stay `opaudit.findings.Finding` objects in this process;
they become JSON only here, when ``fix.json`` is written, and at the worker boundary.

A plan is ``{layer_path: [rule_name, ...]}``: the rules to apply to each Keras layer.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from opaudit.findings import Finding, ProbeResult, to_jsonable
from opaudit.quantize.result import QuantReport

SCHEMA_VERSION = 4
Plan = dict[str, list[str]]


@dataclass
class RuleApplication:
    """A rule newly planned on ``layers`` because of findings with ``answers`` codes on ``tf_ops``."""

    rule: str
    layers: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    tf_ops: list[str] = field(default_factory=list)


@dataclass
class Unfixed:
    """Something that still stops the model, and why no rule removed it."""

    op: str | None
    layer: str | None
    code: str
    error: str | None
    why: str
    subgraph: int | None = None
    index: int | None = None
    output: str | None = None  # PARITY_FAILED: the output that differs


@dataclass
class Conversion:
    """One converter run in a worker. ``status``: ok | error | timeout | crashed | failed.

    ``errors`` are the converter's structured errors (`converter_errors.parse_errors`);
    ``record`` the rule applications the worker made (`rewrites.applied` records, each with
    the reasons a rule declined, if it did).
    """

    status: str
    seconds: float | None = None
    wall_seconds: float | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    peak_rss_mb: float | None = None
    stage: str | None = None
    error: str | None = None
    record: list[dict[str, Any]] = field(default_factory=list)
    size: int | None = None
    signal: int | None = None

    @classmethod
    def from_worker(cls, res: dict[str, Any]) -> Conversion:
        """From a worker/supervisor result dict (unknown keys ignored)."""
        kw = {k: res.get(k) for k in cls.__dataclass_fields__ if k in res}
        kw["errors"] = kw.get("errors") or []
        kw["record"] = kw.get("record") or []
        return cls(**kw)


@dataclass
class EmitsCheck:
    """A rule's declared ``emits`` against the ops its planned layers produced once converted.

    ``missing``: declared ops absent from those layers (some fold away, e.g. a CAST of a
    constant); ``fired`` is False when none of the declared ops appears, i.e. the rule most likely
    did not rewrite anything there; ``non_builtin``: custom/Flex ops those layers still produce.
    """

    rule: str
    layers: list[str]
    declared: list[str]
    produced: list[str]
    missing: list[str]
    non_builtin: list[str]
    fired: bool


@dataclass
class Iteration:
    """One convert -> inspect round with the plan it converted."""

    n: int
    plan: Plan
    conversion: Conversion | None = None
    size: int | None = None
    op_histogram: dict[str, int] | None = None
    op_delta: dict[str, int] | None = None  # op counts against the previous converted model
    findings: list[Finding] = field(default_factory=list)
    other_target_findings: dict[str, int] = field(default_factory=dict)
    probe: ProbeResult | None = None
    non_builtin: list[dict[str, Any]] = field(default_factory=list)
    rules_applied: list[RuleApplication] = field(default_factory=list)
    emits: list[EmitsCheck] = field(default_factory=list)
    inspect_error: str | None = None


@dataclass
class PreAudit:
    """Blockers found by tracing the TF graph before the first conversion."""

    seconds: float | None = None
    wall_seconds: float | None = None
    findings: list[Finding] = field(default_factory=list)
    layer_rules: dict[str, list[str]] = field(default_factory=dict)
    note: str | None = None
    plan: Plan = field(default_factory=dict)
    rules_applied: list[RuleApplication] = field(default_factory=list)
    error: dict[str, Any] | None = None


@dataclass
class ParityReport:
    """Keras vs TFLite on the same samples (bars in `opaudit.fix.parity`).

    ``outputs`` holds one comparison per model output (`parity.compare_outputs` entries);
    ``twin`` the same report for a twin converted with ``overrides`` (see `model_kinds`).
    ``mode``: ``end-to-end`` (every output within the bars) or ``layer-wise`` (an output is not,
    but `opaudit compare` found every layer exact on identical inputs and the difference
    explained by the original model's conditioning: ``ill_conditioned`` says where and why);
    ``compare`` is the layer-wise comparison run after an end-to-end failure
    (`CompareReport.to_dict()`, docs/compare.md), or None.
    """

    passed: bool
    samples: int | None = None
    bar: dict[str, float] | None = None
    matching: str | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)
    seconds: float | None = None
    peak_rss_mb: float | None = None
    note: str | None = None
    error: str | None = None
    traceback: str | None = None
    twin: ParityReport | None = None
    overrides: dict[str, Any] | None = None
    conversion_seconds: float | None = None
    mode: Literal["end-to-end", "layer-wise"] = "end-to-end"
    compare: dict[str, Any] | None = None
    ill_conditioned: list[dict[str, Any]] = field(default_factory=list)

    def failed_outputs(self) -> list[str]:
        bad = [o["name"] for o in self.outputs if not o["passed"]]
        if self.twin is not None:
            bad += [f"twin:{o['name']}" for o in self.twin.outputs if not o["passed"]]
            if self.twin.error:
                bad.append(f"twin ({self.twin.error})")
        return bad


Status = Literal["fixed", "failed"]


@dataclass
class FixResult:
    """Everything `opaudit fix` did and found. ``to_dict()`` is ``fix.json``."""

    status: Status = "failed"
    reason: str = ""
    model: dict[str, Any] = field(default_factory=dict)  # source, kind, config, weights, overrides, inputs, outputs
    tool: dict[str, str] = field(default_factory=dict)  # versions
    pre_audit: PreAudit = field(default_factory=PreAudit)
    iterations: list[Iteration] = field(default_factory=list)
    op_histogram_before: dict[str, int] | None = None
    op_histogram_after: dict[str, int] | None = None
    parity: ParityReport | None = None
    unfixed: list[Unfixed] = field(default_factory=list)
    artifacts: dict[str, str | None] = field(
        default_factory=lambda: {"model": None, "fix_json": "fix.json", "report": None})
    cache: dict[str, Any] = field(default_factory=dict)
    seconds: float | None = None
    runtime: dict[str, Any] | None = None  # fastest measured num_threads / XNNPACK (`profile.aggregate.runtime_settings`)
    profile: dict[str, Any] | None = None  # `opaudit profile` of the final model (`--profile`), or {"error"}
    quantization: QuantReport | None = None  # `--quantize`: variants and their task metrics

    @property
    def fixed(self) -> bool:
        return self.status == "fixed"

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, **to_jsonable(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FixResult:
        """Rebuild from ``fix.json`` (a cache hit). Unknown keys are ignored."""
        return _build(cls, data)


def _build(tp: Any, value: Any) -> Any:
    """JSON value -> instance of the annotated type ``tp`` (dataclasses, lists, dicts, tuples)."""
    if value is None:
        return None
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        known = {f.name for f in dataclasses.fields(tp)}
        return tp(**{k: _build(hints[k], v) for k, v in value.items() if k in known})
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        real = [a for a in args if a is not type(None)]
        return _build(real[0], value) if len(real) == 1 else value
    if origin is list and args:
        return [_build(args[0], v) for v in value]
    if origin is tuple:
        return tuple(value)
    return value
