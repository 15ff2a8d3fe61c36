"""The fix loop: convert -> inspect -> decide -> (reconvert | parity | stop).

Each iteration converts the model with the current plan (in a worker), then inspects the
flatbuffer with a real invoke (`inspect_model`), or reads the converter's structured errors when
conversion failed; `decide` (pure) then says what comes next:

* ``parity``: builtin-only, no blocking finding, the probe invoked it, and no optional rule is
  left to try -> compare with Keras (`check_parity`); ``fixed`` when every output matches, or
  when the layer-wise compare finds every layer exact and the original ill-conditioned;
* ``reconvert``: a rule answers a finding on its layer -> the grown plan;
* ``stop``: a blocking finding has no rule (``unfixed`` says why), conversion did not complete
  (timeout, crash), or the findings and plan came back unchanged (no progress).
``max_iterations`` bounds the loop.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from opaudit import atomic
from opaudit.fix import finding_adapters as adapt
from opaudit.fix.layer_paths import resolve_layer
from opaudit.fix.layer_wise import judge_failure
from opaudit.fix.result import EmitsCheck, FixResult, Iteration, ParityReport, Plan, RuleApplication, Unfixed
from opaudit.fix.rule_plan import declined_reasons, extend_plan
from opaudit.fix.session import Session


@dataclass(frozen=True)
class Decision:
    """What to do after an iteration. ``state`` is the no-progress key of the iteration."""

    action: Literal["parity", "reconvert", "stop"]
    plan: Plan
    reason: str = ""
    applied: list[RuleApplication] = field(default_factory=list)
    unfixed: list[Unfixed] = field(default_factory=list)
    state: tuple = ()


def decide(it: Iteration, plan: Plan, layer_rules: dict[str, list[str]], seen: set[tuple],
           rw=None) -> Decision:
    """The stop decision for iteration ``it`` converted with ``plan`` (pure: no I/O).

    ``seen`` holds the states of earlier iterations; ``rw`` is the rewrites module (injected
    in tests). Reasons are the sentences ``fix.json`` reports.
    """
    conv = it.conversion
    if conv is not None and conv.status not in ("ok", "error"):  # timeout, crash: nothing to plan on
        unfixed = [Unfixed(op=None, layer=None, code=f.code, error=f.message, why="conversion did not complete")
                   for f in it.findings]
        return Decision("stop", plan, reason=it.findings[0].message if it.findings else conv.status,
                        unfixed=unfixed)
    declined = declined_reasons(conv.record if conv else [])
    actionable = adapt.actionable(it.findings)
    if conv is not None and conv.status == "ok" and _runs(it):
        step = extend_plan(plan, actionable, layer_rules, rw, declined)
        if step.applied:  # optional improvements: warnings with a rule not yet applied
            return Decision("reconvert", step.plan, applied=step.applied)
        return Decision("parity", plan)
    state = (adapt.progress_key(it.findings), repr(sorted(plan.items())))
    step = extend_plan(plan, actionable, layer_rules, rw, declined)
    if step.unfixed or not step.applied or state in seen:
        reason = ("not fixable: " + "; ".join(f"{u.op} at layer {u.layer} ({u.why})" for u in step.unfixed)
                  if step.unfixed else "no progress: the same findings came back with the same plan")
        return Decision("stop", plan, reason=reason, applied=step.applied, unfixed=step.unfixed, state=state)
    return Decision("reconvert", step.plan, applied=step.applied, state=state)


def _runs(it: Iteration) -> bool:
    """Builtin-only, nothing blocks the cpu target, and the probe (if it ran) invoked the model."""
    blocking = [f for f in it.findings if f.blocks("cpu")]
    return not blocking and not it.non_builtin and (it.probe is None or it.probe.status == "ok")


def iterate(session: Session, result: FixResult, plan: Plan, max_iterations: int) -> None:
    """Run iterations into ``result`` until a decision stops the loop (parity included)."""
    seen: set[tuple] = set()
    for n in range(1, max_iterations + 1):
        it, tfl = convert_and_inspect(session, n, plan, result)
        result.iterations.append(it)
        d = decide(it, plan, session.layer_rules, seen)
        it.rules_applied = d.applied
        if d.action == "parity":
            finish_with_parity(session, result, tfl, plan)
            return
        if d.action == "stop":
            result.unfixed, result.reason = d.unfixed, d.reason
            return
        if d.state:
            seen.add(d.state)
        plan = d.plan
    result.reason = f"not fixed after {max_iterations} iterations"


def convert_and_inspect(session: Session, n: int, plan: Plan, result: FixResult) -> tuple[Iteration, Path]:
    """Iteration ``n``: convert with ``plan``; when a model came out, inspect and keep it."""
    it = Iteration(n=n, plan=plan)
    tfl = session.work / f"iter-{n}.tflite"
    it.conversion = session.convert(plan, tfl, label=f"iteration {n}: converting")
    if it.conversion.status != "ok":
        it.findings = adapt.from_conversion(it.conversion, session.describe(plan))
        return it, tfl
    it.size = it.conversion.size
    operators, found, it.probe, it.inspect_error = _inspect(tfl, session)
    it.findings = [f for f in found if f.code not in adapt.OTHER_TARGET_CODES]
    it.other_target_findings = dict(Counter(f.code for f in found if f.code in adapt.OTHER_TARGET_CODES))
    it.op_histogram = adapt.histogram(operators)
    it.op_delta = adapt.histogram_delta(result.op_histogram_after, it.op_histogram)
    it.non_builtin = adapt.non_builtin(operators)
    it.emits = check_emits(plan, operators, session.layer_paths)
    result.op_histogram_before = result.op_histogram_before or it.op_histogram
    result.op_histogram_after = it.op_histogram
    atomic.copy(tfl, session.out / "model.tflite")
    result.artifacts["model"] = "model.tflite"
    return it, tfl


def _inspect(path: Path, session: Session):
    """-> (operators, findings, probe, error). `inspect_model` with a real invoke; should it
    fail, the flatbuffer's operators only (the parity step still invokes the model)."""
    try:
        from opaudit.inspect import inspect_model

        report = inspect_model(str(path), target="cpu", probe=True, timeout=min(session.timeout, 300.0))
    except Exception as exc:  # noqa: BLE001 - degrade to the flatbuffer; say so in the iteration
        from opaudit.flatbuf.model import load

        return load(str(path)).operators, [], None, f"inspect_model failed: {type(exc).__name__}: {exc}"
    return report.operators, adapt.from_report(report, session.layer_paths), report.probe, None


def check_emits(plan: Plan, operators, paths: set[str], rw=None) -> list[EmitsCheck]:
    """Compare each planned rule's declared ``emits`` with the ops its layers produced."""
    if rw is None:
        import rewrites as rw
    produced: dict[str, set[tuple[str, str]]] = {}
    for o in operators:
        if layer := resolve_layer(o.tf_name or o.node_name or "", paths):
            produced.setdefault(layer, set()).add((o.op, o.kind))
    by_rule: dict[str, list[str]] = {}
    for layer, names in plan.items():
        for name in names:
            by_rule.setdefault(name, []).append(layer)
    checks = []
    for name, layers in sorted(by_rule.items()):
        declared = sorted(rw.get_rule(name).emits)
        ops = set().union(*(produced.get(la, set()) for la in layers))
        names = sorted({op for op, _ in ops})
        checks.append(EmitsCheck(rule=name, layers=layers, declared=declared, produced=names,
                                 missing=[d for d in declared if d not in names],
                                 non_builtin=sorted({op for op, kind in ops if kind != "builtin"}),
                                 fired=any(d in names for d in declared)))
    return checks


def check_parity(session: Session, tfl: Path, label: str = "parity: Keras vs TFLite", spec=None) -> ParityReport:
    """Keras vs the converted model on the session's samples (a worker task)."""
    res = session.run("parity", label, spec=spec, tflite=str(tfl))
    if res.get("status") != "ok":
        return ParityReport(passed=False, error=res.get("error") or res.get("status"),
                            traceback=res.get("traceback"))
    return ParityReport(passed=bool(res.get("passed")), samples=res.get("samples"), bar=res.get("bar"),
                        matching=res.get("matching"), outputs=res.get("outputs") or [],
                        seconds=res.get("wall_seconds"), peak_rss_mb=res.get("peak_rss_mb"))


def parity_twin(session: Session, plan: Plan) -> ParityReport | None:
    """Convert and compare the twin the model kind asks for (same weights and plan), if any."""
    from opaudit.model_kinds import get_kind

    overrides = get_kind(session.spec.kind).parity_twin(session.spec)
    if not overrides:
        return None
    twin_spec = session.spec.with_overrides(overrides)
    tfl = session.work / "parity-twin.tflite"
    conv = session.convert(plan, tfl, label="parity twin: converting", spec=twin_spec)
    if conv.status != "ok":
        return ParityReport(passed=False, error=f"twin conversion {conv.status}: {conv.error}", overrides=overrides)
    twin = check_parity(session, tfl, "parity twin: Keras vs TFLite", spec=twin_spec)
    twin.overrides = overrides
    twin.conversion_seconds = conv.seconds
    return twin


def finish_with_parity(session: Session, result: FixResult, tfl: Path, plan: Plan) -> None:
    """Parity decides ``fixed``; a twin is added when the samples gave no detection. On a failure,
    the layer-wise compare (`layer_wise.judge_failure`) tells a wrong conversion (not fixed, the
    culprit layer and rule named) from an ill-conditioned original (fixed, ``mode`` layer-wise)."""
    main = check_parity(session, tfl)
    result.parity = main
    main.note = session.samples_note
    if main.error:
        result.reason = f"parity check could not run: {main.error}"
        return
    detected = sum(o.get("keras") or 0 for o in main.outputs if o["kind"] == "detections")
    twin = parity_twin(session, plan) if detected == 0 else None
    if twin is not None:
        main.twin = twin
        main.note += (f"; no detection on the samples: detections/masks also checked on a twin converted "
                      f"with {twin.overrides} (same weights and plan) so detections are non-empty")
    bad = main.failed_outputs()
    main.passed = not bad
    if not bad:
        result.status = "fixed"
        result.reason = "builtin-only, invokes, and matches Keras on every output"
        return
    judge_failure(session, result, tfl, plan, bad)
