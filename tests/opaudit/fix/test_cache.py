"""The cache key / store / lookup (no TensorFlow)."""

from opaudit import modelspec
from opaudit.fix import cache


def test_cache_key_store_lookup(tmp_path, monkeypatch):
    monkeypatch.setenv("OPAUDIT_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "m.py"
    model.write_text("def build():\n    return None\n")
    spec = modelspec.describe(f"{model}:build")
    k1 = cache.key(spec, samples=None, rules=(), options={"max_iterations": 6})
    assert k1 == cache.key(spec, samples=None, rules=(), options={"max_iterations": 6})
    assert k1 != cache.key(spec, samples=None, rules=(), options={"max_iterations": 5})
    rules = tmp_path / "r.py"
    rules.write_text("# rule v1\n")
    k2 = cache.key(spec, samples=None, rules=[str(rules)], options={"max_iterations": 6})
    rules.write_text("# rule v2\n")
    assert k2 != cache.key(spec, samples=None, rules=[str(rules)], options={"max_iterations": 6})
    model.write_text("def build():\n    return 1\n")
    assert k1 != cache.key(spec, samples=None, rules=(), options={"max_iterations": 6})
    assert cache.lookup(k1) is None
    (tmp_path / "model.tflite").write_bytes(b"tfl")
    (tmp_path / "fix.json").write_text("{}")
    cache.store(k1, {"model.tflite": tmp_path / "model.tflite", "fix.json": tmp_path / "fix.json",
                     "report.html": tmp_path / "absent.html"})
    entry = cache.lookup(k1)
    assert entry is not None and (entry / "model.tflite").read_bytes() == b"tfl"
    assert not (entry / "report.html").exists()
