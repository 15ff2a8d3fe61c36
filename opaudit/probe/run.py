"""Parent side of the interpreter probe: spawn, time out, classify.

`run_probe()` starts `python -m opaudit.probe.worker` in a new session, sends the request, and
turns whatever happens into a `ProbeResult`: a clean run, the runtime's own error text at load,
allocate (prepare) or invoke, a crash (the signal that killed the child), or a timeout (the
whole process group is killed). It never raises for anything the model does.
"""

from __future__ import annotations

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
        self.t0 = time.perf_counter()
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

    def cancel(self) -> None:
        _kill_group(self.p)
        self.p.communicate()

    def result(self, timeout: float | None = None) -> ProbeResult:
        """Wait for the child (at most `timeout` s from its start; default: the start's timeout)."""
        p, t0 = self.p, self.t0
        limit = self.timeout if timeout is None else timeout
        try:
            out, err = p.communicate(timeout=max(0.1, limit - (time.perf_counter() - t0)))
        except subprocess.TimeoutExpired:
            self.cancel()
            return ProbeResult(
                status="timeout", runtime="ai_edge_litert",
                error=f"the interpreter did not finish within {limit:g} s",
                seconds=time.perf_counter() - t0,
            )
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
      worker: the child command (JSON request on stdin, JSON reply as its last stdout line).
    """
    return ProbeHandle(path, shapes, timeout, seed, worker)


def run_probe(path: str, shapes: dict | None = None, timeout: float = 60.0, seed: int = 0,
              worker: tuple[str, ...] = WORKER) -> ProbeResult:
    """`start_probe(...).result()`: ok | load_failed | prepare_failed | invoke_failed | crashed | timeout."""
    return start_probe(path, {str(k): v for k, v in (shapes or {}).items()}, timeout, seed, worker).result()


def _classify(returncode: int, out: bytes, err: bytes, seconds: float) -> ProbeResult:
    if returncode < 0:
        sig = -returncode
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        return ProbeResult(
            status="crashed",
            runtime="ai_edge_litert",
            error=f"the runtime process died with {name}" + (f": {tail[0]}" if tail[0] else ""),
            seconds=seconds,
            exit_signal=sig,
        )
    try:
        res = json.loads(out.decode("utf-8", "replace").strip().splitlines()[-1])
    except (ValueError, IndexError):
        msg = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        return ProbeResult(
            status="crashed", runtime="ai_edge_litert",
            error=f"the probe exited with code {returncode}: {msg[0]}", seconds=seconds,
        )
    failed = parse_failed_nodes(res.get("error") or "")
    return ProbeResult(
        status=res["status"],
        runtime=res.get("runtime", "ai_edge_litert"),
        stage=res.get("stage"),
        error=res.get("error"),
        failed_node={"index": failed[0][0], "op": failed[0][1], "stage": failed[0][2]} if failed else None,
        inputs=tuple(res.get("inputs", ())),
        outputs=tuple(res.get("outputs", ())),
        seconds=seconds,
    )
