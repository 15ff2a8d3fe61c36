"""Run one worker task in a child process with a timeout and a live progress line.

The child is ``python -m opaudit.fix.worker TASK.json`` (``worker``: any command that takes the
task file as its last argument and honours the worker's file protocol) in its own session, so a hang is ended by
killing its process group. While it runs, the parent shows the elapsed time and the stage the
child reports, and samples the child's peak RSS (``VmHWM`` in ``/proc/<pid>/status``).
Outcomes: the child's result dict, or ``{"status": "timeout" | "crashed" | "failed", ...}``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

POLL = 0.2
WORKER: tuple[str, ...] = (sys.executable, "-m", "opaudit.fix.worker")
_ROOT = str(Path(__file__).resolve().parents[2])


def _hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        pass
    return 0.0


def _display(label: str, progress: Callable[[str], None] | None):
    """-> (update(stage, elapsed), close()). Rich live line on a terminal, else the callback."""
    last = {"stage": None}

    def on_change(say: Callable[[str], None]):
        def update(stage: str, elapsed: float) -> None:
            if stage != last["stage"]:
                last["stage"] = stage
                say(f"{label}: {stage} ({elapsed:.0f} s)")
        return update, lambda: None

    if progress is not None:
        return on_change(progress)
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:  # logs and CI: one plain line per stage change
        return on_change(lambda text: print(text, file=sys.stderr, flush=True))
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                   console=console, transient=True)
    bar.start()
    tid = bar.add_task(label)

    def update(stage: str, elapsed: float) -> None:
        bar.update(tid, description=f"{label}: {stage}")
    return update, bar.stop


def run_task(task: dict[str, Any], workdir: Path, *, timeout: float, label: str,
             progress: Callable[[str], None] | None = None,
             worker: tuple[str, ...] = WORKER, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``task`` (see worker.py) -> result dict with ``wall_seconds``, ``peak_rss_mb`` and,
    on timeout/crash, ``stage`` (what the child was doing) and ``log`` (its output file).
    ``env`` is added to the child's environment (e.g. ``TF_USE_LEGACY_KERAS`` for tf_keras)."""
    workdir.mkdir(parents=True, exist_ok=True)
    n = len(list(workdir.glob("task-*.stage")))
    base = workdir / f"task-{n:02d}-{task['task']}"
    task = {**task, "workdir": str(workdir), "stage_file": f"{base}.stage", "result": f"{base}.result.json"}
    Path(f"{base}.json").write_text(json.dumps(task))
    Path(task["stage_file"]).write_text("starting")
    env = {**os.environ, **(env or {}),
           "PYTHONPATH": os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")]))}
    log = open(f"{base}.log", "wb")
    start = time.monotonic()
    proc = subprocess.Popen([*worker, f"{base}.json"], stdout=log,
                            stderr=subprocess.STDOUT, env=env, start_new_session=True)
    update, close = _display(label, progress)
    peak, stage, timed_out = 0.0, "starting", False
    try:
        while proc.poll() is None:
            elapsed = time.monotonic() - start
            peak = max(peak, _hwm_mb(proc.pid))
            try:
                stage = Path(task["stage_file"]).read_text() or stage
            except OSError:
                pass
            update(stage, elapsed)
            if elapsed > timeout:
                timed_out = True
                _kill(proc)
                break
            time.sleep(POLL)
    finally:
        close()
        if proc.poll() is None:
            _kill(proc)
        log.close()
    try:
        stage = Path(task["stage_file"]).read_text() or stage
    except OSError:
        pass
    wall = round(time.monotonic() - start, 2)
    common = {"wall_seconds": wall, "stage": stage, "log": f"{base}.log"}
    if timed_out:
        return {"status": "timeout", "seconds": wall, "peak_rss_mb": round(peak), **common}
    result_path = Path(task["result"])
    if proc.returncode < 0 or not result_path.exists():
        sig = -proc.returncode if proc.returncode < 0 else None
        name = signal.Signals(sig).name if sig else f"exit code {proc.returncode}"
        return {"status": "crashed", "signal": sig, "error": f"worker died ({name}) while: {stage}",
                "seconds": wall, "peak_rss_mb": round(peak), "log_tail": _tail(f"{base}.log"), **common}
    result = json.loads(result_path.read_text())
    result["peak_rss_mb"] = round(max(peak, float(result.get("peak_rss_mb") or 0)))
    return {**common, **result}


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _tail(path: str, n: int = 2000) -> str:
    try:
        return Path(path).read_bytes()[-n:].decode("utf-8", "replace")
    except OSError:
        return ""
