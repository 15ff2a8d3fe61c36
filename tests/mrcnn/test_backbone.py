"""Shared building blocks: frozen BatchNorm, block naming, FPN and RPN shapes on tiny inputs."""
import keras
import numpy as np
from keras import layers as KL

from mrcnn.backbone import conv_block, identity_block
from mrcnn.batch_norm import BatchNorm
from mrcnn.fpn import fpn_graph
from mrcnn.rpn import build_rpn_model


def test_frozen_batchnorm_ignores_outer_training_flag():
    x = KL.Input((4,))
    bn = BatchNorm(name="bn_test", train_bn=False)
    model = keras.Model(x, bn(x, training=False))
    bn.moving_mean.assign(np.full(4, 2.0, np.float32))
    bn.moving_variance.assign(np.full(4, 4.0, np.float32))
    data = np.array([[0.0, 2.0, 4.0, 6.0], [10.0, 12.0, 14.0, 16.0]], np.float32)
    want = (data - 2.0) / np.sqrt(4.0 + bn.epsilon)
    for training in (False, True):
        np.testing.assert_allclose(model(data, training=training).numpy(), want, rtol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 2.0)  # no statistics update
    # train_bn=None follows the caller, like a plain BatchNormalization.
    free = BatchNorm(name="bn_free")
    y = free(data, training=True).numpy()
    np.testing.assert_allclose(y.mean(0), 0.0, atol=1e-5)


def test_block_layer_names():
    x = KL.Input((16, 16, 8))
    y = conv_block(x, 3, [4, 4, 16], stage=3, block="a", train_bn=False)
    y = identity_block(y, 3, [4, 4, 16], stage=3, block="b", train_bn=False)
    names = {l.name for l in keras.Model(x, y).layers}
    for n in ["res3a_branch2a", "res3a_branch2b", "res3a_branch2c", "res3a_branch1",
              "bn3a_branch2a", "bn3a_branch1", "res3a_out", "res3b_branch2c", "bn3b_branch2c",
              "res3b_out"]:
        assert n in names, n
    assert "res3b_branch1" not in names
    assert tuple(y.shape) == (None, 8, 8, 16)


def test_fpn_and_rpn_shapes():
    cs = [KL.Input((32 // s, 32 // s, c)) for s, c in [(1, 8), (2, 16), (4, 32), (8, 64)]]
    ps = fpn_graph(cs, pyramid_size=8)
    assert [tuple(p.shape) for p in ps] == [(None, 32, 32, 8), (None, 16, 16, 8), (None, 8, 8, 8),
                                            (None, 4, 4, 8), (None, 2, 2, 8)]
    rpn = build_rpn_model(anchor_stride=1, anchors_per_location=3, depth=8)
    logits, probs, bbox = rpn(np.zeros((1, 4, 5, 8), np.float32))
    assert logits.shape == (1, 60, 2) and probs.shape == (1, 60, 2) and bbox.shape == (1, 60, 4)
    np.testing.assert_allclose(np.asarray(probs).sum(-1), 1.0, rtol=1e-6)
