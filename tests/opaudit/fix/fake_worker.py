"""A stand-in for `opaudit.fix.worker` that speaks its file protocol and then misbehaves.

Usage (as the injected worker command): ``python fake_worker.py MODE TASK.json`` with MODE
``hang`` (reports a stage, then sleeps), ``abort`` (reports a stage, then SIGABRT), ``usage``
(answers that the user's input is unusable) or ``no-quantizer`` (the real worker, except that every
LiteRT Quantizer task fails the way ai-edge-quantizer does on a large conv weight).
"""

import json
import os
import sys
import time
from pathlib import Path

mode, task_file = sys.argv[1], sys.argv[2]
task = json.loads(Path(task_file).read_text())
if mode == "hang":
    Path(task["stage_file"]).write_text("converting (hanging)")
    time.sleep(120)
elif mode == "abort":
    Path(task["stage_file"]).write_text("converting (aborting)")
    os.abort()
elif mode == "no-quantizer":
    if task["task"] == "quantize":
        Path(task["result"]).write_text(json.dumps({"status": "error", "error": "ValueError: Failed to get "
                                                    "quantization parameters for tensor: conv (stand-in)"}))
    else:
        from opaudit.fix import worker

        sys.exit(worker.main([task_file]))
elif mode == "usage":
    Path(task["result"]).write_text(json.dumps({"status": "usage", "error": "sample 1, input 'x': bad"}))
