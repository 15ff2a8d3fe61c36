"""Hundreds of damaged variants of real models: no crash, no hang, no traceback.

In process, `load()` must either parse or raise ModelFormatError. Through the CLI (a sample of
the variants, with the interpreter probe), the exit code is 0/1/2 and an error is one line.
"""

import random
import subprocess
import sys
import zlib

import pytest

from opaudit.errors import ModelFormatError
from opaudit.flatbuf.model import load


def variants(data: bytes, n: int, seed: int):
    """Truncations, bit flips, overwritten offsets, zeroed spans, duplicated chunks."""
    rng = random.Random(seed)
    size = len(data)
    cuts = sorted({int(size * f) for f in (0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99)} | {4, 8, 12, size - 1})
    for c in cuts:
        yield f"truncate@{c}", data[:c]
    while True:
        b = bytearray(data)
        kind = rng.choice(["flip", "offset", "zero", "dup", "ff"])
        if kind == "flip":
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(size)
                b[i] ^= 1 << rng.randrange(8)
        elif kind == "offset":
            i = rng.randrange(0, size - 4) & ~3
            b[i:i + 4] = rng.choice([0xFFFFFFFF, 0x7FFFFFFF, size, size * 2, rng.randrange(1 << 32)]).to_bytes(4, "little")
        elif kind == "zero":
            i = rng.randrange(size)
            b[i:i + rng.randint(1, 64)] = bytes(len(b[i:i + 64]))[: len(b[i:i + rng.randint(1, 64)])]
        elif kind == "ff":
            i = rng.randrange(min(size, 512))
            b[i:i + 16] = b"\xff" * len(b[i:i + 16])
        else:
            i, j = sorted(rng.randrange(size) for _ in range(2))
            b = b[:j] + b[i:j] + b[j:]
        yield f"{kind}#{rng.random():.6f}", bytes(b)


@pytest.mark.parametrize("name", ["clean", "flex", "map_fn"])
def test_parse_never_crashes(models, tmp_path, name):
    data = models[name].read_bytes()
    f = tmp_path / "bad.tflite"
    outcomes = {"ok": 0, "error": 0}
    for i, (label, blob) in enumerate(variants(data, 0, seed=zlib.crc32(name.encode()) & 0xFFFF)):
        if i >= 300:
            break
        f.write_bytes(blob)
        try:
            load(str(f))
            outcomes["ok"] += 1
        except ModelFormatError as e:
            msg = str(e)
            assert "\n" not in msg and msg, label
            outcomes["error"] += 1
    assert outcomes["error"] > 10  # the damage was really seen


def test_cli_on_damaged_models(models, tmp_path):
    data = models["flex"].read_bytes()
    codes = []
    for i, (label, blob) in enumerate(variants(data, 0, seed=7)):
        if i >= 40:
            break
        f = tmp_path / f"bad{i}.tflite"
        f.write_bytes(blob)
        before = f.read_bytes()
        r = subprocess.run([sys.executable, "-m", "opaudit", "inspect", str(f), "--timeout", "20"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode in (0, 1, 2), (label, r.stderr)
        assert "internal error" not in r.stderr, (label, r.stderr)
        codes.append(r.returncode)
        assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, label
        if r.returncode == 2:
            lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
            assert len(lines) == 1 and lines[0].startswith("opaudit: error:"), (label, r.stderr)
        assert f.read_bytes() == before  # the input is never modified
    assert codes.count(2) >= 5 and codes.count(1) >= 1  # both kinds of damage were exercised
