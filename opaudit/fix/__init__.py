"""`opaudit fix`: convert a Keras detector to builtin-only TFLite, rewriting what blocks it.

Public entry: `run_fix` (lazy import, so `import opaudit.fix` stays cheap). See docs/fix.md.
"""

from __future__ import annotations


def run_fix(*args, **kwargs):
    from opaudit.fix.loop import run_fix as _run_fix

    return _run_fix(*args, **kwargs)


__all__ = ["run_fix"]
