"""The conversion subprocess: timeout and crash become findings; atomic writes leave no partial file."""

import os
import time
from pathlib import Path

import pytest

from opaudit import atomic
from opaudit.fix import outcomes
from opaudit.fix.runner import run_task

SPEC = {"source": "tests/detector_zoo/tiny_detector.py:build", "kind": "pyfunc", "config": None,
        "weights": None, "path": "tests/detector_zoo/tiny_detector.py", "function": "build"}


def test_hanging_conversion_becomes_converter_timeout(tmp_path):
    seen = []
    t = time.monotonic()
    res = run_task({"task": "convert", "spec": SPEC, "plan": {"roi_pool": ["crop_and_resize"]},
                    "sleep": 60, "out": str(tmp_path / "m.tflite")}, tmp_path / "work",
                   timeout=3, label="converting", progress=seen.append)
    assert time.monotonic() - t < 15
    # On a loaded machine the child may still be starting when the 3 s are up.
    assert res["status"] == "timeout" and res["stage"] in ("converting (sleeping)", "starting")
    assert not (tmp_path / "m.tflite").exists()
    assert seen and seen[0].startswith("converting: ")
    [f] = outcomes.from_conversion(res, "tiny_detector.py:build with plan {'roi_pool': ['crop_and_resize']}")
    assert f["code"] == "CONVERTER_TIMEOUT" and f["severity"] == "error"
    assert "tiny_detector.py:build" in f["message"] and "roi_pool" in f["message"]
    assert res["stage"] in f["message"] and "did not finish in 3" in f["message"]


def test_crashing_conversion_is_reported_with_its_signal(tmp_path):
    res = run_task({"task": "convert", "spec": SPEC, "abort": True, "out": str(tmp_path / "m.tflite")},
                   tmp_path / "work", timeout=30, label="converting", progress=lambda s: None)
    assert res["status"] == "crashed" and res["signal"] == 6  # SIGABRT
    assert "converting (aborting)" in res["error"]
    [f] = outcomes.from_conversion(res, "tiny")
    assert f["code"] == "CONVERTER_ERROR" and "crashed" in f["message"]


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
