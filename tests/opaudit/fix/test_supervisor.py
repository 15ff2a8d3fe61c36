"""The conversion subprocess: a hang or a crash becomes a finding; atomic writes leave no partial
file. The misbehaving worker is injected (`fake_worker.py`), so product code has no test switches."""

import os
import sys
import time
from pathlib import Path

import pytest

from opaudit import atomic
from opaudit.errors import UsageError
from opaudit.fix.finding_adapters import from_conversion
from opaudit.fix.result import Conversion
from opaudit.fix.session import Session
from opaudit.fix.supervisor import run_task
from opaudit.modelspec import describe

FAKE = str(Path(__file__).with_name("fake_worker.py"))
MODEL = str(Path(__file__).resolve().parents[2] / "detector_zoo/tiny_detector.py") + ":build"


def fake(mode: str) -> tuple[str, ...]:
    return (sys.executable, FAKE, mode)


def test_hanging_conversion_becomes_converter_timeout(tmp_path):
    seen = []
    t = time.monotonic()
    res = run_task({"task": "convert", "plan": {"roi_pool": ["crop_and_resize"]}, "out": str(tmp_path / "m.tflite")},
                   tmp_path / "work", timeout=3, label="converting", progress=seen.append, worker=fake("hang"))
    assert time.monotonic() - t < 15
    # On a loaded machine the child may still be starting when the 3 s are up.
    assert res["status"] == "timeout" and res["stage"] in ("converting (hanging)", "starting")
    assert not (tmp_path / "m.tflite").exists()
    assert seen and seen[0].startswith("converting: ")
    [f] = from_conversion(Conversion.from_worker(res), "tiny_detector.py:build with plan {'roi_pool': ['crop_and_resize']}")
    assert f.code == "CONVERTER_TIMEOUT" and f.severity == "error" and f.blocks("cpu")
    assert "tiny_detector.py:build" in f.message and "roi_pool" in f.message
    assert res["stage"] in f.message and "did not finish in 3" in f.message


def test_crashing_conversion_is_reported_with_its_signal(tmp_path):
    res = run_task({"task": "convert", "out": str(tmp_path / "m.tflite")}, tmp_path / "work", timeout=30,
                   label="converting", progress=lambda s: None, worker=fake("abort"))
    assert res["status"] == "crashed" and res["signal"] == 6  # SIGABRT
    assert "converting (aborting)" in res["error"]
    [f] = from_conversion(Conversion.from_worker(res), "tiny")
    assert f.code == "CONVERTER_ERROR" and "crashed" in f.message and f.detail["signal"] == 6


def test_worker_rejecting_the_input_is_a_usage_error(tmp_path):
    session = Session(describe(MODEL), tmp_path, tmp_path, 30.0, progress=lambda s: None, worker=fake("usage"))
    with pytest.raises(UsageError, match="sample 1, input 'x'"):
        session.run("prepare", "pre-audit")


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "model.tflite"
    atomic.write_bytes(target, b"old")

    def boom(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        atomic.write_bytes(target, b"new content that never lands")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tflite"]
    with pytest.raises(OSError):
        atomic.write_bytes(tmp_path / "fresh.tflite", b"x")
    assert not (tmp_path / "fresh.tflite").exists()
    monkeypatch.undo()
    atomic.write_bytes(target, b"new")
    assert Path(target).read_bytes() == b"new"
