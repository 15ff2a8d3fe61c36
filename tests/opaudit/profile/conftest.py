import pytest

from tests.opaudit.profile.models import build


@pytest.fixture(scope="session")
def profile_models(tmp_path_factory):
    """{name: path} of the converted profile test models (see models.py)."""
    return build(tmp_path_factory.mktemp("profile-models"))
