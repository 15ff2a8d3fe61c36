"""Pick rewrite rules for findings and grow the plan ``{layer_path: [rule_name, ...]}``.

A finding is a dict with at least ``code``, ``layer`` and ``tf_op`` (TF op type such as
``CropAndResize``; None for layer-level findings like ``OP_EXPLOSION``). Candidates come from
``rewrites.rules_for_tf_op(tf_op)`` or, for layer-level findings, the layer-type rules the worker
found with ``rewrites.rules_for_layer`` (``layer_rules``). Rules whose ``codes`` name the
finding's code are preferred; a rule matched by TF op is accepted even if it lists other codes.
"""

from __future__ import annotations

from typing import Any

LAYER_CODES = {"OP_EXPLOSION"}


def _rules_module():
    import rewrites

    return rewrites


def candidates(finding: dict[str, Any], layer_rules: dict[str, list[str]], rw=None) -> list[str]:
    """Rule names that could answer ``finding`` (best first)."""
    rw = rw or _rules_module()
    names: list[str] = []
    tf_op = finding.get("tf_op") or (finding.get("detail") or {}).get("tf_op")
    if finding.get("code") in LAYER_CODES:
        names += list(layer_rules.get(finding.get("layer") or "", []))
    if tf_op:
        rules = list(rw.rules_for_tf_op(tf_op))
        preferred = [r for r in rules if finding.get("code") in (getattr(r, "codes", ()) or ())]
        names += [r.name for r in preferred] + [r.name for r in rules if r not in preferred]
    return list(dict.fromkeys(names))


def extend_plan(plan: dict[str, list[str]], findings: list[dict[str, Any]],
                layer_rules: dict[str, list[str]], rw=None):
    """-> ``(new_plan, rules_applied, unfixed)``.

    ``rules_applied``: ``[{"rule", "layers", "answers", "tf_ops"}]`` (new entries only);
    ``unfixed``: findings no rule answers, each ``{"op", "layer", "code", "error", "why", ...}``.
    A finding whose candidate rules are all already active on its layer is unfixed
    ("rule applied, op remains"). Findings without a layer cannot be planned. Warnings are
    optional: planned when a fresh rule exists, otherwise ignored (parity decides).
    """
    new = {k: list(v) for k, v in plan.items()}
    applied: dict[str, dict[str, Any]] = {}
    unfixed: list[dict[str, Any]] = []
    for f in findings:
        if f.get("severity", "error") == "info":
            continue
        names = candidates(f, layer_rules, rw)
        layer = f.get("layer")
        optional = f.get("severity", "error") != "error"  # warnings: fix if a fresh rule exists
        base = {"op": f.get("op") or (f.get("detail") or {}).get("tf_op"), "layer": layer,
                "code": f.get("code"),
                "subgraph": f.get("subgraph"), "index": f.get("index"),
                "error": f.get("error") or f.get("message")}
        fresh = [n for n in names if n not in new.get(layer or "", [])]
        if optional and (not fresh or not layer):
            continue
        if not names:
            unfixed.append({**base, "why": "no rule for this op/layer"})
            continue
        if not layer:
            unfixed.append({**base, "why": f"rules {names} exist but the node maps to no Keras layer"})
            continue
        if not fresh:
            unfixed.append({**base, "why": f"rules {names} already applied to {layer}; op remains"})
            continue
        rule = fresh[0]
        new.setdefault(layer, []).append(rule)
        entry = applied.setdefault(rule, {"rule": rule, "layers": [], "answers": [], "tf_ops": []})
        tf_op = f.get("tf_op") or (f.get("detail") or {}).get("tf_op")
        for key, value in (("layers", layer), ("answers", f.get("code")), ("tf_ops", tf_op)):
            if value and value not in entry[key]:
                entry[key].append(value)
    return new, list(applied.values()), unfixed
