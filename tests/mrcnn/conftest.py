"""Shared fixtures: one seeded small Mask R-CNN per test session (build ~7 s on 2 cores)."""
import numpy as np
import pytest


@pytest.fixture(scope="session")
def small_model():
    from mrcnn import MaskRCNN, get_config
    return MaskRCNN(get_config("small", DETECTION_MIN_CONFIDENCE=0.0), seed=0)


@pytest.fixture(scope="session")
def sample_image():
    """Synthetic 300x400 RGB uint8 image: noise plus two flat rectangles."""
    rng = np.random.default_rng(123)
    img = rng.integers(0, 256, (300, 400, 3)).astype(np.uint8)
    img[40:140, 50:200] = (200, 30, 30)
    img[180:280, 220:380] = (20, 160, 220)
    return img


@pytest.fixture(scope="session")
def small_inputs(small_model, sample_image):
    inputs = small_model.mold_inputs([sample_image])
    return inputs


@pytest.fixture(scope="session")
def small_outputs(small_model, small_inputs):
    return [np.asarray(t) for t in small_model.keras_model(small_inputs, training=False)]
