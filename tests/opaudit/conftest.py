import pytest

from tests.opaudit.models import build_all


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    """{name: path} of the small test models (see tests/opaudit/models.py)."""
    return build_all(tmp_path_factory.mktemp("models"))
