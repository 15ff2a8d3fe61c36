"""`opaudit fix`: convert a Keras model to builtin-only TFLite, rewriting what blocks it.

Public entry: `run_fix(...) -> FixResult` (lazy import, so `import opaudit.fix` stays cheap).
The tree reads in one direction (docs/fix.md):

* `run.py` -- `run_fix`: cache, prepare, the loop, writing ``fix.json`` and the report;
* `loop.py` -- the iterations and their pure stop decision (`decide`), parity at the end;
* `result.py` -- the typed result (`FixResult`, `Iteration`, `ParityReport`, ...);
* `session.py`, `supervisor.py`, `worker.py` -- worker tasks: parent handle, child supervision
  (timeout, crash, progress), and the TensorFlow side (prepare, convert, parity);
* `converter.py`, `converter_errors.py`, `preaudit.py` -- conversion with a pinned signature,
  the converter's structured errors, blockers found by tracing before converting;
* `finding_adapters.py`, `layer_paths.py`, `rule_plan.py` -- findings from every source,
  TF names -> Keras layer paths, rules chosen for findings;
* `parity.py` (pure numpy comparisons), `cache.py` (content-addressed results).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opaudit.fix.result import FixResult


def run_fix(*args, **kwargs) -> FixResult:
    """See `opaudit.fix.run.run_fix`."""
    from opaudit.fix.run import run_fix as _run_fix

    return _run_fix(*args, **kwargs)


__all__ = ["run_fix"]
