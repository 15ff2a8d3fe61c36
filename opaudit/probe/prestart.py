"""Start the interpreter probe before the CLI has even imported its framework.

`opaudit inspect model.tflite` spends most of its wall time in two places that do not depend
on each other: the probe child (start Python, load the runtime, allocate, invoke) and the parent
(import the CLI, parse, analyze, render). `prestart(argv)` looks at the raw command line and,
for the plain case (first model of `inspect`/`report`, default seed, no `--input-shape`, probe
not disabled), starts the child at once; `inspect_model()` then `take()`s it instead of starting
its own. A guess that does not match is simply cancelled at exit.
"""

from __future__ import annotations

import atexit
import os

from opaudit.probe.run import ProbeHandle, start_probe

_PENDING: dict[str, ProbeHandle] = {}
_VALUED = {"--html", "--model-explorer", "-o", "--output", "--target", "-t", "--timeout", "--input-shape"}
_DEFAULT_TIMEOUT = 600.0  # the real timeout is applied by inspect_model() at result() time


def prestart(argv: list[str]) -> None:
    """Speculatively start the probe of the first model named in `argv` (`opaudit` args)."""
    if not argv or argv[0] not in ("inspect", "report") or "--no-probe" in argv:
        return
    if any(a.startswith("--input-shape") for a in argv):
        return
    skip = False
    for a in argv[1:]:
        if skip:
            skip = False
            continue
        if a in _VALUED:
            skip = True
            continue
        if a.startswith("-"):
            continue
        if os.path.isfile(a):
            h = start_probe(a, None, timeout=_DEFAULT_TIMEOUT, seed=0)
            _PENDING[h.path] = h
        return


def take(path: str, seed: int, shapes: dict | None) -> ProbeHandle | None:
    """The pre-started probe for exactly this request, if any (each handle is taken once)."""
    h = _PENDING.pop(os.path.abspath(path), None)
    if h is None:
        return None
    if seed != h.seed or (shapes or {}) != h.shapes:
        h.cancel()
        return None
    return h


@atexit.register
def _cancel_unused() -> None:
    for h in _PENDING.values():
        h.cancel()
    _PENDING.clear()
