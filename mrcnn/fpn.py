"""Feature Pyramid Network on top of the ResNet body (reference layer names).

``fpn_graph([C2, C3, C4, C5], pyramid_size)`` -> ``[P2, P3, P4, P5, P6]``, each with
``pyramid_size`` (config.TOP_DOWN_PYRAMID_SIZE) channels and strides 4, 8, 16, 32, 64.

Top-down path: ``fpn_c5p5`` (1x1 lateral on C5), then for k = 4, 3, 2:
``fpn_p{k}add = fpn_p{k+1}upsampled(P{k+1}) + fpn_c{k}p{k}(C{k})``; every merged map is smoothed by
a 3x3 conv ``fpn_p{k}``; ``fpn_p6`` is a stride-2 1x1 max-pool of P5 (RPN only).
"""
from __future__ import annotations

from keras import layers as KL


def fpn_graph(backbone_maps, pyramid_size: int = 256):
    """``backbone_maps``: ``[C2, C3, C4, C5]`` (NHWC). Returns ``[P2, P3, P4, P5, P6]`` (NHWC).

    No BatchNorm here, so no ``train_bn`` argument is needed (training reuses this graph as is).
    """
    c2, c3, c4, c5 = backbone_maps
    p5 = KL.Conv2D(pyramid_size, (1, 1), name="fpn_c5p5")(c5)
    p4 = KL.Add(name="fpn_p4add")([
        KL.UpSampling2D(size=(2, 2), name="fpn_p5upsampled")(p5),
        KL.Conv2D(pyramid_size, (1, 1), name="fpn_c4p4")(c4)])
    p3 = KL.Add(name="fpn_p3add")([
        KL.UpSampling2D(size=(2, 2), name="fpn_p4upsampled")(p4),
        KL.Conv2D(pyramid_size, (1, 1), name="fpn_c3p3")(c3)])
    p2 = KL.Add(name="fpn_p2add")([
        KL.UpSampling2D(size=(2, 2), name="fpn_p3upsampled")(p3),
        KL.Conv2D(pyramid_size, (1, 1), name="fpn_c2p2")(c2)])
    p2 = KL.Conv2D(pyramid_size, (3, 3), padding="same", name="fpn_p2")(p2)
    p3 = KL.Conv2D(pyramid_size, (3, 3), padding="same", name="fpn_p3")(p3)
    p4 = KL.Conv2D(pyramid_size, (3, 3), padding="same", name="fpn_p4")(p4)
    p5 = KL.Conv2D(pyramid_size, (3, 3), padding="same", name="fpn_p5")(p5)
    p6 = KL.MaxPooling2D(pool_size=(1, 1), strides=2, name="fpn_p6")(p5)
    return [p2, p3, p4, p5, p6]
