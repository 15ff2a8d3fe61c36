"""MODEL strings -> ModelSpec; the pinned signature; the registry of model kinds (no TensorFlow)."""

import numpy as np
import pytest

from opaudit import model_kinds, modelspec
from opaudit.errors import UsageError


def test_describe_mrcnn_identity_covers_package_source():
    spec = modelspec.describe("mrcnn", "small")
    assert spec.kind == "mrcnn" and spec.config == "small"
    names = {p.name for p in modelspec.identity_files(spec)}
    assert {"model.py", "config.py"} <= names


def test_describe_forms_and_errors(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("def build():\n    return None\n")
    spec = modelspec.describe(f"{f}:build")
    assert (spec.kind, spec.function, spec.path) == ("pyfunc", "build", str(f))
    assert modelspec.ModelSpec.from_dict(spec.to_dict()) == spec
    assert spec.with_overrides({"A": 1}).overrides == {"A": 1} and spec.overrides == {}
    with pytest.raises(UsageError, match="unknown MODEL"):
        modelspec.describe(str(tmp_path / "model.onnx"))
    with pytest.raises(UsageError, match="model file not found"):
        modelspec.describe(str(tmp_path / "absent.py") + ":build")
    with pytest.raises(UsageError, match="weights file not found"):
        modelspec.describe("mrcnn", "small", str(tmp_path / "absent.h5"))


class _T:
    def __init__(self, name, shape, dtype="float32"):
        self.name, self.shape, self.dtype = name, shape, dtype


class _Model:
    def __init__(self, *inputs):
        self.inputs = list(inputs)


def test_signature_pins_dynamic_dims_from_the_first_sample():
    model = _Model(_T("image:0", (None, None, None, 3)), _T("meta", (None, 14)))
    sample = [np.zeros((1, 64, 48, 3), np.float32), np.zeros((1, 14), np.float32)]
    assert modelspec.signature(model, None, [sample]) == [
        {"name": "image", "shape": [1, 64, 48, 3], "dtype": "float32"},
        {"name": "meta", "shape": [1, 14], "dtype": "float32"}]
    assert modelspec.signature(_Model(_T("x", (None, 8))), None, None)[0]["shape"] == [1, 8]
    with pytest.raises(UsageError, match="pass --samples"):
        modelspec.signature(_Model(_T("x", (None, None))), None, None)


def test_model_kinds_registry_contract():
    assert {"mrcnn", "pyfunc", "keras", "saved_model"} <= set(model_kinds._KINDS)
    assert model_kinds.get_kind("mrcnn").parity_twin(modelspec.describe("mrcnn")) == {"DETECTION_MIN_CONFIDENCE": 0.0}
    assert model_kinds.get_kind("pyfunc").parity_twin(modelspec.describe("mrcnn")) is None
    with pytest.raises(UsageError, match="unknown model kind"):
        model_kinds.get_kind("onnx")
    with pytest.raises(ValueError, match="registered twice"):
        model_kinds.register_kind("mrcnn")(model_kinds.ModelKind)


def test_import_file_supports_dataclasses(tmp_path):
    f = tmp_path / "with_dc.py"
    f.write_text("import dataclasses\n\n@dataclasses.dataclass\nclass P:\n    x: int = 1\n\ndef build():\n    return P()\n")
    assert modelspec.import_file(str(f), "opaudit_test_dc").build().x == 1


def test_import_file_imports_a_file_once(tmp_path):
    f = tmp_path / "once.py"
    f.write_text("STATE = []\n")
    a = modelspec.import_file(str(f), "opaudit_test_once_a")
    a.STATE.append(1)
    assert modelspec.import_file(str(f), "opaudit_test_once_b").STATE == [1]
