"""Parent side of the interpreter probe: spawn, time out, classify.

`run_probe()` starts `python -m opaudit.probe.worker` in a new session, sends the request, and
turns whatever happens into `ProbeResult`s, one per op resolver (`stock` = target `cpu`,
`default` = XNNPACK applied, target `xnnpack`): a clean run, the runtime's own error text at
load, allocate (prepare) or invoke, a crash (the signal that killed the child), or a timeout
(the whole process group is killed). A crash or timeout is charged to the resolver that was
running; one that had already replied keeps its reply. It never raises for anything the model
does.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time

from opaudit.findings import ProbeResult

# Lazy match: custom codes are untrusted and may themselves contain ")".
_NODE = re.compile(r"Node number (\d+) \((.*?)\) failed to (prepare|invoke)", re.S)


def parse_failed_nodes(error: str) -> list[tuple[int, str, str]]:
    """`[(node_index, op, stage)]` named in a runtime error, innermost first.

    The runtime names only the first failing node per subgraph and concatenates nested
    failures: "...Node number 0 (CropAndResize) failed to prepare.Node number 3 (WHILE) failed
    to prepare." -> [(0, "CropAndResize", "prepare"), (3, "WHILE", "prepare")].
    """
    return [(int(n), op, st) for n, op, st in _NODE.findall(error or "")]


def _kill_group(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


WORKER = (sys.executable, "-m", "opaudit.probe.worker")


class ProbeHandle:
    """A probe running in the background: `start_probe()` returns it, `.result()` waits.

    The request goes to the child at once, so the interpreter loads and invokes on one core
    while the parent parses the flatbuffer on the other. `timeout` counts from the start.
    """

    def __init__(self, path: str, shapes: dict[str, list[int]] | None, timeout: float, seed: int,
                 worker: tuple[str, ...]):
        self.path, self.shapes, self.seed, self.timeout = os.path.abspath(path), shapes or {}, seed, timeout
        self.t0, self._results = time.perf_counter(), None
        req = json.dumps({"path": self.path, "shapes": self.shapes, "seed": seed})
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        self.p = subprocess.Popen(
            list(worker), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, env=env,
        )
        stdin, self.p.stdin = self.p.stdin, None  # communicate() must not touch it again
        try:
            stdin.write(req.encode())  # a few hundred bytes: fits the pipe buffer
            stdin.close()
        except OSError:
            pass  # the child died at once; result() reports how

    def cancel(self) -> bytes:
        """Kill the child's process group; returns what it had written to stdout."""
        _kill_group(self.p)
        out, _ = self.p.communicate()
        return out or b""

    def result(self, timeout: float | None = None) -> ProbeResult:
        """The stock-kernel run (target `cpu`); see `results()`."""
        return self.results(timeout)["stock"]

    def results(self, timeout: float | None = None) -> dict[str, ProbeResult]:
        """Wait for the child (at most `timeout` s from its start; default: the start's
        timeout) and return `{"stock": ProbeResult, "default": ProbeResult}`."""
        if self._results is None:
            self._results = self._wait(timeout)
        return self._results

    def _wait(self, timeout: float | None) -> dict[str, ProbeResult]:
        p, t0 = self.p, self.t0
        limit = self.timeout if timeout is None else timeout
        try:
            out, err = p.communicate(timeout=max(0.1, limit - (time.perf_counter() - t0)))
        except subprocess.TimeoutExpired:
            self.cancel()
            out = self.cancel()
            failure = ProbeResult(status="timeout", runtime="ai_edge_litert",
                                  error=f"the interpreter did not finish within {limit:g} s",
                                  seconds=time.perf_counter() - t0)
            return _merge(_replies(out), failure)
        return _classify(p.returncode, out, err, time.perf_counter() - t0)


def start_probe(
    path: str,
    shapes: dict[str, list[int]] | None = None,
    timeout: float = 60.0,
    seed: int = 0,
    worker: tuple[str, ...] = WORKER,
) -> ProbeHandle:
    """Start loading, allocating and invoking `path` in a child process.

    Args:
      path: the .tflite file.
      shapes: input tensor index (as a string, JSON-style) -> shape for dynamic inputs; other
        dynamic dims are 1.
      timeout: seconds before the child (and its process group) is killed.
      seed: seed of the generated inputs.
      worker: the child command: JSON request on stdin; on stdout one JSON reply line per
        resolver in `RESOLVERS` (``{"resolver": ..., "status": ..., "final": true, ...}``).
    """
    return ProbeHandle(path, shapes, timeout, seed, worker)


def run_probe(path: str, shapes: dict | None = None, timeout: float = 60.0, seed: int = 0,
              worker: tuple[str, ...] = WORKER) -> ProbeResult:
    """`start_probe(...).result()`: ok | load_failed | prepare_failed | invoke_failed | crashed | timeout."""
    return start_probe(path, {str(k): v for k, v in (shapes or {}).items()}, timeout, seed, worker).result()


RESOLVERS = ("stock", "default")


def _replies(out: bytes) -> dict[str, dict]:
    """The last JSON reply line per resolver in the child's stdout."""
    got: dict[str, dict] = {}
    for line in out.decode("utf-8", "replace").splitlines():
        if line.startswith("{"):
            try:
                res = json.loads(line)
            except ValueError:
                continue
            if isinstance(res, dict) and res.get("resolver") in RESOLVERS:
                got[res["resolver"]] = res
    return got


def _merge(got: dict[str, dict], failure: ProbeResult) -> dict[str, ProbeResult]:
    """Replies as ProbeResults; a resolver with no reply gets `failure`.

    The stock run replies after allocate and again at the end (`final`). If the child died
    after the first stock reply, the failure happened in the default run (or in the stock
    invoke that follows it): the stock result keeps its measured load and allocate and says
    in `note` that its invoke was not measured."""
    out = {r: dataclasses.replace(failure, resolver=r) if got.get(r) is None else _result(got[r])
           for r in RESOLVERS}
    stock = got.get("stock")
    if stock is not None and not stock.get("final") and stock.get("status") == "ok":
        where = "the default (XNNPACK) run" if "default" not in got else "the stock invoke"
        out["stock"] = dataclasses.replace(
            out["stock"], note=f"invoke not measured: the probe {failure.status} in {where}")
        if "default" in got:  # the stock invoke itself died
            out["stock"] = dataclasses.replace(failure, resolver="stock")
    return out


def _result(res: dict) -> ProbeResult:
    failed = parse_failed_nodes(res.get("error") or "")
    return ProbeResult(
        status=res["status"],
        runtime=res.get("runtime", "ai_edge_litert"),
        stage=res.get("stage"),
        error=res.get("error"),
        failed_node={"index": failed[0][0], "op": failed[0][1], "stage": failed[0][2]} if failed else None,
        inputs=tuple(res.get("inputs", ())),
        outputs=tuple(res.get("outputs", ())),
        seconds=float(res.get("seconds", 0.0)),
        resolver=res.get("resolver", "stock"),
        delegate_nodes=tuple(res.get("delegate_nodes", ())),
        note=res.get("note"),
    )


def _classify(returncode: int, out: bytes, err: bytes, seconds: float) -> dict[str, ProbeResult]:
    got = _replies(out)
    if returncode < 0:
        sig = -returncode
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        return _merge(got, ProbeResult(
            status="crashed", runtime="ai_edge_litert",
            error=f"the runtime process died with {name}" + (f": {tail[0]}" if tail[0] else ""),
            seconds=seconds, exit_signal=sig,
        ))
    if len(got) < len(RESOLVERS) or returncode != 0:
        msg = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        return _merge(got, ProbeResult(
            status="crashed", runtime="ai_edge_litert",
            error=f"the probe exited with code {returncode}: {msg[0]}", seconds=seconds,
        ))
    return {r: _result(got[r]) for r in RESOLVERS}
