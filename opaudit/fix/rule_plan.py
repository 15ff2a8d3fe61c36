"""Pick rewrite rules for findings and grow the plan ``{layer_path: [rule_name, ...]}``.

Candidates for a finding come from ``rewrites.rules_for_tf_op(finding.detail["tf_op"])``, for
layer-level findings (``OP_EXPLOSION``) from the layer-type rules the worker found with
``rewrites.rules_for_layer`` (``layer_rules``), and, for rules that name neither a TF op nor a
layer type (speed rules such as ``full_window_conv``), from ``rewrites.rules_for_code(finding.code)``.
Rules whose ``codes`` name the finding's code are preferred; a rule matched by TF op is accepted
even if it lists other codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opaudit.findings import Code, Finding
from opaudit.fix.finding_adapters import SPEED_CODES
from opaudit.fix.result import Plan, RuleApplication, Unfixed

LAYER_CODES = {Code.OP_EXPLOSION}


@dataclass
class PlanStep:
    """What `extend_plan` decided: the grown plan, the new rule applications, what has no rule."""

    plan: Plan
    applied: list[RuleApplication] = field(default_factory=list)
    unfixed: list[Unfixed] = field(default_factory=list)


def _rules_module():
    import rewrites

    return rewrites


def tf_op_of(finding: Finding) -> str | None:
    return finding.detail.get("tf_op")


def candidates(finding: Finding, layer_rules: dict[str, list[str]], rw=None) -> list[str]:
    """Rule names that could answer ``finding``, best first (``rw``: the rewrites module)."""
    rw = rw or _rules_module()
    names: list[str] = []
    if finding.code in LAYER_CODES:
        names += list(layer_rules.get(finding.layer or "", []))
    if tf_op := tf_op_of(finding):
        rules = list(rw.rules_for_tf_op(tf_op))
        preferred = [r for r in rules if finding.code in (getattr(r, "codes", ()) or ())]
        names += [r.name for r in preferred] + [r.name for r in rules if r not in preferred]
    # rules found by code alone: a rule with a TF op or a layer type is found by those
    names += [r.name for r in rw.rules_for_code(finding.code) if not r.tf_ops and not r.layer_types]
    return list(dict.fromkeys(names))


def extend_plan(plan: Plan, findings: list[Finding], layer_rules: dict[str, list[str]], rw=None,
                declined: dict[tuple[str, str], str] | None = None) -> PlanStep:
    """Plan a fresh rule for every finding that has one.

    A finding whose candidate rules are all already active on its layer is unfixed: with the
    rule's own reason when the rule declined there (``declined[(rule, layer)]``, from the
    worker's `RuleNotApplied` records), else "already applied; op remains". Findings without a
    layer cannot be planned. Warnings and speed hints (info findings with a code in
    ``SPEED_CODES``, such as ``FULL_WINDOW_CONV``) are optional: planned when a fresh rule exists,
    otherwise ignored (parity decides). Other info findings are ignored.
    """
    new = {k: list(v) for k, v in plan.items()}
    applied: dict[str, RuleApplication] = {}
    unfixed: list[Unfixed] = []
    for f in findings:
        if f.severity == "info" and f.code not in SPEED_CODES:
            continue
        names = candidates(f, layer_rules, rw)
        fresh = [n for n in names if n not in new.get(f.layer or "", [])]
        if f.severity != "error" and (not fresh or not f.layer):
            continue
        why = _why_not(f, names, fresh, declined or {})
        if why:
            unfixed.append(Unfixed(op=f.op or tf_op_of(f), layer=f.layer, code=f.code,
                                   error=f.error or f.message, why=why, subgraph=f.subgraph, index=f.index))
            continue
        rule = fresh[0]
        new.setdefault(f.layer, []).append(rule)
        entry = applied.setdefault(rule, RuleApplication(rule))
        for values, value in ((entry.layers, f.layer), (entry.answers, f.code), (entry.tf_ops, tf_op_of(f))):
            if value and value not in values:
                values.append(value)
    return PlanStep(new, list(applied.values()), unfixed)


def _why_not(f: Finding, names: list[str], fresh: list[str], declined: dict[tuple[str, str], str]) -> str:
    """Why no rule can be planned for ``f`` ("" when one can)."""
    if not names:
        return "no rule for this op/layer"
    if not f.layer:
        return f"rules {names} exist but the node maps to no Keras layer"
    if not fresh:
        reasons = [f"rule {n} declined: {declined[(n, f.layer)]}" for n in names if (n, f.layer) in declined]
        return "; ".join(reasons) or f"rules {names} already applied to {f.layer}; op remains"
    return ""


def declined_reasons(records: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """``{(rule, layer): reason}`` from `rewrites.applied` records whose rule declined."""
    return {(r["rule"], r["layer"]): "; ".join(r["declined"]) for r in records if r.get("declined")}
