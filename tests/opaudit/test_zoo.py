"""Zoo audits: the pure per-model unit, the worker pool (a crash or hang stops nothing else),
resume, JSON Lines, CSV and exit codes through the CLI."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from opaudit import zoo

THIRD = Path(__file__).parent / "fixtures" / "third_party"
FAKE = r"""
import json, os, signal, sys, time
from opaudit.zoo import AuditOptions, audit_one
opts = AuditOptions(**json.loads(sys.argv[1]))
for line in sys.stdin:
    path = json.loads(line)["path"]
    if os.path.basename(path).startswith("crash"):
        os.kill(os.getpid(), signal.SIGSEGV)
    if os.path.basename(path).startswith("hang"):
        time.sleep(60)
    sys.stdout.write(json.dumps(audit_one(path, opts)) + "\n")
    sys.stdout.flush()
"""


@pytest.fixture(scope="module")
def zoo_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("zoo")
    for f in THIRD.rglob("*.tflite"):
        shutil.copy(f, d / f.name)
    (d / "sub").mkdir()
    (d / "sub" / "broken.tflite").write_bytes(b"\0" * 64)
    (d / "notes.txt").write_text("not a model")
    return d


def cli(*args):
    return subprocess.run([sys.executable, "-m", "opaudit", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


def test_audit_one_is_plain_data(zoo_dir):
    e = zoo.audit_one(str(zoo_dir / "selfie_segmentation.tflite"), zoo.AuditOptions(probe=False))
    assert json.loads(json.dumps(e)) == e
    assert e["summary"]["cpu"] == "blocked" and e["summary"]["xnnpack_verdict"] == "yes"
    bad = zoo.audit_one(str(zoo_dir / "sub" / "broken.tflite"), zoo.AuditOptions(probe=False))
    assert bad["exit_code"] == 2 and bad["summary"]["status"] == "unreadable"


def test_expand_finds_models_recursively(zoo_dir):
    got = zoo.expand([zoo_dir])
    assert [Path(p).name for p in got] == ["face_detection_short_range.tflite", "nmp.tflite",
                                           "selfie_segmentation.tflite", "broken.tflite"]


def test_crash_and_hang_do_not_stop_the_rest(zoo_dir, tmp_path):
    paths = [str(zoo_dir / "nmp.tflite"), str(tmp_path / "crash.tflite"), str(tmp_path / "hang.tflite"),
             str(zoo_dir / "selfie_segmentation.tflite")]
    got = []
    opts = zoo.AuditOptions(probe=False, model_timeout=5.0)
    zoo.run_pool(paths, opts, 2, got.append, command=(sys.executable, "-c", FAKE))
    by = {Path(e["path"]).name: e["summary"] for e in got}
    assert by["crash.tflite"]["status"] == "crashed" and "SIGSEGV" in by["crash.tflite"]["errors"]
    assert by["hang.tflite"]["status"] == "timeout"
    assert by["nmp.tflite"]["status"] == by["selfie_segmentation.tflite"]["status"] == "audited"
    assert zoo.exit_code(got) == 2


def test_cli_json_lines_csv_and_resume(zoo_dir, tmp_path):
    r = cli("inspect", zoo_dir, "--jobs", "2", "--json")
    assert r.returncode == 2  # broken.tflite
    docs = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(docs) == 4
    ok = [d for d in docs if "error" not in d]
    assert all(d["schema_version"] == 1 and d["summary"]["nodes"] == len(d["operators"]) for d in ok)
    assert all(d["summary"]["gpu_blocked_nodes"] == d["counts"]["gpu"]["blocked_nodes"] for d in ok)
    state = tmp_path / "state.jsonl"
    first = cli("inspect", zoo_dir / "nmp.tflite", zoo_dir / "selfie_segmentation.tflite", "--resume", state, "--csv")
    assert first.returncode == 1  # selfie is blocked on cpu
    assert len(state.read_text().splitlines()) == 2
    again = cli("inspect", zoo_dir, "--resume", state, "--csv", "--no-probe")
    rows = list(csv.DictReader(io.StringIO(again.stdout)))
    assert [Path(r["path"]).name for r in rows] == ["face_detection_short_range.tflite", "nmp.tflite",
                                                     "selfie_segmentation.tflite", "broken.tflite"]
    assert [r["probe_cpu"] for r in rows[1:3]] == ["ok", "prepare_failed"]  # from the state file: not re-run
    assert rows[0]["probe_cpu"] == "" and rows[3]["status"] == "unreadable"
    assert len(state.read_text().splitlines()) == 4 and again.returncode == 2


def test_cli_summary_table_and_usage(zoo_dir):
    r = cli("inspect", zoo_dir / "nmp.tflite", zoo_dir / "face_detection_short_range.tflite", "--no-probe")
    assert r.returncode == 0 and "2 model(s), target cpu" in r.stdout and "clean: 2" in r.stdout
    assert cli("inspect", zoo_dir, "--json", "--csv").returncode == 2
    assert cli("inspect", zoo_dir, "--html", "x.html").returncode == 2
    assert cli("inspect", zoo_dir, "--jobs", "0").returncode == 2
