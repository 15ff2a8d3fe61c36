"""Atomic file output: readers see the old file (or none) or the whole new one, never a partial write."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_bytes(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write `data` to `path` via a temporary file in the same folder and `os.replace`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return path
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """`obj` as indented JSON (non-JSON values via `str`)."""
    return write_bytes(path, json.dumps(obj, indent=2, default=str) + "\n")


def copy(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Copy a file to `dst` atomically."""
    return write_bytes(dst, Path(src).read_bytes())
