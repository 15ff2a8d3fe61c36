"""After an end-to-end parity failure: ask `opaudit compare` (a worker task) whether the
converted model is wrong or the original model is ill-conditioned.

* ``ill-conditioned`` -> fixed, with ``parity.mode = "layer-wise"`` and the account (layer,
  rows, why, mechanism, end-to-end size) in ``parity.ill_conditioned`` and the reason;
* ``divergent`` -> not fixed; ``unfixed[].why`` names the culprit layer, its TFLite nodes and
  the rule that produced them (from the plan);
* ``equal`` or a compare that could not run -> the parity failure stands, and says so.
"""

from __future__ import annotations

from pathlib import Path

from opaudit.findings import Code
from opaudit.fix.result import FixResult, ParityReport, Plan, Unfixed
from opaudit.fix.session import Session


def judge_failure(session: Session, result: FixResult, tfl: Path, plan: Plan, bad: list[str]) -> None:
    """Run compare on the model whose outputs failed and settle ``result`` (see module doc)."""
    main = result.parity
    on_twin = all(b.startswith("twin") for b in bad) and main.twin is not None
    spec = session.spec.with_overrides(main.twin.overrides or {}) if on_twin else None
    model = session.work / "parity-twin.tflite" if on_twin else tfl
    res = session.run("compare", "compare: layer by layer", spec=spec, tflite=str(model), plan=plan)
    failed = f"PARITY FAILED on {', '.join(bad)}"
    if res.get("status") != "ok":
        result.reason = f"{failed}; the layer-wise compare could not run: {res.get('error') or res.get('status')}"
        result.unfixed = _unfixed(bad, "outputs differ from Keras; the layer-wise compare could not run")
        return
    cmp = res["report"]
    main.compare = cmp
    if cmp["verdict"] == "ill-conditioned":
        _ill_conditioned(result, main, cmp, bad)
    elif cmp["verdict"] == "divergent":
        fd = cmp["first_divergent"]
        rules = f", produced by rule {', '.join(fd['rules'])}" if fd.get("rules") else ""
        why = (f"layer {fd['layer']} differs on identical inputs (isolated max relative error "
               f"{fd['isolated']['max_rel']:.3g}); TFLite nodes {' '.join(fd['tflite_nodes'][:8])}{rules}")
        result.reason = f"{failed}: {why}"
        result.unfixed = _unfixed(bad, "outputs differ from Keras", layer=fd["layer"], why=why)
    else:
        result.reason = f"{failed}; the layer-wise compare finds every layer within the bar ({cmp['summary']})"
        result.unfixed = _unfixed(bad, "outputs differ from Keras; no layer differs on identical inputs")


def _ill_conditioned(result: FixResult, main: ParityReport, cmp: dict, bad: list[str]) -> None:
    main.passed, main.mode = True, "layer-wise"
    main.ill_conditioned = cmp["explanations"]
    where = "; ".join(_account(e) for e in cmp["explanations"]) or "no single layer"
    result.status = "fixed"
    result.reason = (f"builtin-only, invokes, and every layer matches Keras on identical inputs; the end-to-end "
                     f"difference on {', '.join(bad)} (max relative {cmp['end_to_end']:.3g}) is the original model's "
                     f"conditioning: {where}")
    result.unfixed = []


def _account(e: dict) -> str:
    rows = "; ".join(f"sample {s} rows {r[:12]}" for s, r in (e.get("rows") or {}).items())
    mech = f" -- {e['mechanism']}" if e.get("mechanism") else ""
    return f"at {e['layer']}{f' ({rows})' if rows else ''}: {e['why']}{mech}"


def _unfixed(bad: list[str], error: str, layer: str | None = None, why: str | None = None) -> list[Unfixed]:
    return [Unfixed(op=None, layer=layer, code=Code.PARITY_FAILED, output=b, error=error,
                    why=why or "no rule answers a parity failure") for b in bad]
