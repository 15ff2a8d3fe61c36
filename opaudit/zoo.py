"""Audit a whole collection of `.tflite` files: one model per task, N worker processes.

The unit of work is `audit_one(path, options) -> dict`, a pure function of the file and the
options (it parses, probes in its own child process and returns plain JSON data, touching
nothing else): a local pool, a batch system or a distributed engine (docs/zoo.md maps it onto
Ray) can call it unchanged. Its result is `{"path", "summary", "report"}` or, for a file that
cannot be audited, `{"path", "summary", "error", "exit_code"}`.

`run_pool(paths, options, jobs, on_result)` keeps `jobs` long-lived workers
(`python -m opaudit.zoo`, JSON lines on stdin/stdout), each in its own process group. A worker
that crashes or exceeds the per-model deadline is killed with its group and replaced; the model
it held gets a `crashed` / `timeout` row and the rest go on. Results arrive in completion
order through `on_result` (called in the calling thread, so it may write files and advance a
progress bar). Resuming is the caller's business: pass only the paths still to do
(`state_done`).
"""

from __future__ import annotations

import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from opaudit.errors import EXIT_BAD_INPUT, EXIT_FINDINGS, EXIT_OK, UsageError

WORKER = (sys.executable, "-m", "opaudit.zoo")
SUMMARY_FIELDS = (
    "path", "status", "exit_code", "size", "sha256", "subgraphs", "nodes", "needs_flex",
    "cpu", "cpu_blocked_nodes", "xnnpack", "xnnpack_blocked_nodes", "xnnpack_verdict", "xnnpack_source",
    "xnnpack_partitions", "xnnpack_node_share", "gpu", "gpu_blocked_nodes", "gpu_verdict", "gpu_source",
    "gpu_partitions", "gpu_node_share", "probe_cpu", "probe_xnnpack", "errors", "seconds",
)


@dataclass(frozen=True)
class AuditOptions:
    """`inspect_model` options shared by every model of a run."""

    target: str = "cpu"
    probe: bool = True
    timeout: float = 60.0
    seed: int = 0
    model_timeout: float | None = None  # seconds per model for a worker; default 2 x timeout + 60

    def deadline(self) -> float:
        """Seconds a worker may spend on one model before it is killed (probe + parse)."""
        return self.model_timeout if self.model_timeout is not None else 2 * self.timeout + 60.0


def expand(items: Iterable[str | os.PathLike]) -> list[str]:
    """Files as given, folders searched recursively for `*.tflite` (sorted); UsageError for a
    path that does not exist."""
    out: list[str] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            out += sorted(str(f) for f in p.rglob("*.tflite") if f.is_file())
        elif p.exists() or p.is_symlink():
            out.append(str(p))
        else:
            out.append(str(p))  # reported per model (exit 2), like a single missing file
    return out


def summarize(report) -> dict[str, Any]:
    """One flat row per model (the CSV columns, `SUMMARY_FIELDS`) from a ModelReport."""
    counts, v = report.counts(), report.verdicts()
    row: dict[str, Any] = {
        "path": report.path, "status": "audited", "size": report.size, "sha256": report.sha256,
        "subgraphs": len(report.subgraphs), "nodes": len(report.operators), "needs_flex": v["needs_flex"],
        "exit_code": EXIT_FINDINGS if report.blocking() else EXIT_OK,
        "errors": ";".join(sorted({f.code for f in report.findings if f.severity == "error"})),
    }
    for t in ("cpu", "xnnpack", "gpu"):
        row[t], row[f"{t}_blocked_nodes"] = v[t], counts[t]["blocked_nodes"]
        d = report.delegation.get(t)
        if d is not None:
            row |= {f"{t}_verdict": d.verdict, f"{t}_source": d.source, f"{t}_partitions": len(d.partitions),
                    f"{t}_node_share": d.node_share}
    for t, p in report.runtime_probes.items():
        row[f"probe_{t}"] = p.status
    return row


def audit_one(path: str, options: AuditOptions) -> dict[str, Any]:
    """Audit one file: `{"path", "summary", "report"}` or `{"path", "summary", "error", "exit_code"}`.

    Never raises for anything the file does (bad input is an error entry with exit code 2).
    """
    from opaudit.errors import OpauditError
    from opaudit.inspect import inspect_model

    t0 = time.perf_counter()
    try:
        r = inspect_model(path, target=options.target, probe=options.probe, timeout=options.timeout, seed=options.seed)
    except OpauditError as e:
        return failure_entry(path, "unreadable", " ".join(str(e).split()), e.exit_code, time.perf_counter() - t0)
    except Exception as e:  # a bug of ours on this model: an entry, and the other models go on  # noqa: BLE001
        return failure_entry(path, "error", f"internal error: {type(e).__name__}: {e}", EXIT_BAD_INPUT,
                             time.perf_counter() - t0)
    summary = summarize(r) | {"seconds": round(time.perf_counter() - t0, 3)}
    return {"path": path, "summary": summary, "report": r.to_dict()}


def failure_entry(path: str, status: str, error: str, exit_code: int = EXIT_BAD_INPUT,
                  seconds: float = 0.0) -> dict[str, Any]:
    """The entry of a model that could not be audited (unreadable, crashed worker, timeout)."""
    return {"path": path, "error": error, "exit_code": exit_code,
            "summary": {"path": path, "status": status, "exit_code": exit_code, "errors": error,
                        "seconds": round(seconds, 3)}}


def exit_code(entries: Iterable[dict[str, Any]]) -> int:
    """2 if any model could not be audited, else 1 if any is blocked on the target, else 0."""
    codes = {e["summary"]["exit_code"] for e in entries}
    return EXIT_BAD_INPUT if EXIT_BAD_INPUT in codes else EXIT_FINDINGS if EXIT_FINDINGS in codes else EXIT_OK


# ----------------------------------------------------------------------------- resumable state
def state_done(state: Path) -> dict[str, dict[str, Any]]:
    """`{path: summary row}` already in a state file (JSON lines; a torn last line is ignored)."""
    done: dict[str, dict[str, Any]] = {}
    if not state.exists():
        return done
    for line in state.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("path"), str):
            done[row["path"]] = row
    return done


def state_append(state: Path, summary: dict[str, Any]) -> None:
    """Append one summary row (one line, flushed and fsynced: a kill loses at most that line)."""
    with open(state, "a", encoding="utf-8") as f:
        f.write(json.dumps(summary, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


# ----------------------------------------------------------------------------- the pool
class _Worker:
    """One `python -m opaudit.zoo` child in its own process group."""

    def __init__(self, options: AuditOptions, command: Sequence[str]):
        self.p = subprocess.Popen(
            [*command, json.dumps(asdict(options))], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
        self.buf = b""

    def ask(self, path: str, deadline: float) -> dict[str, Any] | str:
        """The worker's reply for `path`, or "timeout" / "crashed: ..." (the worker is then dead)."""
        try:
            self.p.stdin.write((json.dumps({"path": path}) + "\n").encode())
            self.p.stdin.flush()
        except OSError:
            return self._dead()
        end = time.monotonic() + deadline
        fd = self.p.stdout.fileno()
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                self.kill()
                return "timeout"
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    return self._dead()
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            return json.loads(line)
        except ValueError:
            self.kill()
            return "crashed: unreadable reply"

    def _dead(self) -> str:
        self.kill()
        rc = self.p.returncode
        if rc is not None and rc < 0:
            try:
                return f"crashed: worker killed by {signal.Signals(-rc).name}"
            except ValueError:
                return f"crashed: worker killed by signal {-rc}"
        return f"crashed: worker exited with code {rc}"

    def kill(self) -> None:
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.p.wait()

    def close(self) -> None:
        try:
            self.p.stdin.close()
            self.p.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()


def run_pool(paths: Sequence[str], options: AuditOptions, jobs: int,
             on_result: Callable[[dict[str, Any]], None], command: Sequence[str] = WORKER) -> None:
    """Audit `paths` with `jobs` workers; `on_result(entry)` for each, in completion order.

    `command` is the worker command (injected by tests to simulate crashes and hangs).
    """
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    todo: queue.Queue[str | None] = queue.Queue()
    for p in paths:
        todo.put(p)
    results: queue.Queue[dict[str, Any]] = queue.Queue()
    threads = [threading.Thread(target=_slot, args=(todo, results, options, command), daemon=True)
               for _ in range(min(jobs, max(1, len(paths))))]
    for _ in threads:
        todo.put(None)
    for t in threads:
        t.start()
    for _ in paths:
        on_result(results.get())
    for t in threads:
        t.join()


def _slot(todo: queue.Queue, results: queue.Queue, options: AuditOptions, command: Sequence[str]) -> None:
    worker = None
    while (path := todo.get()) is not None:
        worker = worker or _Worker(options, command)
        t0 = time.perf_counter()
        reply = worker.ask(path, options.deadline())
        if isinstance(reply, str):  # the worker is dead: record, replace it, go on
            worker = None
            status = "timeout" if reply == "timeout" else "crashed"
            why = (f"no answer within {options.deadline():g} s" if status == "timeout" else reply)
            reply = failure_entry(path, status, why, EXIT_BAD_INPUT, time.perf_counter() - t0)
        results.put(reply)
    if worker is not None:
        worker.close()


def main() -> None:
    """Worker loop: options as argv[1] (JSON), one `{"path"}` request per stdin line."""
    options = AuditOptions(**json.loads(sys.argv[1]))
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but replies on the real stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        entry = audit_one(json.loads(line)["path"], options)
        out.write(json.dumps(entry, ensure_ascii=False) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
