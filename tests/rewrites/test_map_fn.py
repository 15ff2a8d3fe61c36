"""map_fn rule: TensorList lowering failure -> map_fn with a traced, fully specified signature."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import keras

from rewrites import RuleNotApplied, applied, get_rule

TOP = 4
SIG = [tf.TensorSpec([None], tf.float32), tf.TensorSpec([None], tf.int32)]


class PerClassTop(keras.layers.Layer):
    """Per class present, its best TOP scores padded with -1: the shape of mrcnn's per-class NMS."""

    def call(self, inputs):
        scores, class_ids = inputs
        classes = tf.unique(class_ids).y  # dynamic length

        def best(class_id):
            mine = tf.gather(scores, tf.where(tf.equal(class_ids, class_id))[:, 0])
            k = tf.minimum(tf.size(mine), TOP)
            top = tf.math.top_k(mine, k).values
            top = tf.pad(top, [[0, TOP - k]], constant_values=-1.0)
            top.set_shape([TOP])
            return top

        return tf.map_fn(best, classes, dtype=tf.float32)


def make_model():
    scores, ids = keras.Input(()), keras.Input((), dtype="int32")
    return keras.Model([scores, ids], PerClassTop(name="mrcnn_detection")([scores, ids]))


def test_without_rule_tensor_list_lowering_fails(lite):
    with pytest.raises(Exception, match="TensorListReserve"):
        lite.convert(make_model(), SIG)


def test_builtin_while_and_same_values(lite, rng):
    model = make_model()
    cases = [
        (rng.random(20, dtype=np.float32), rng.integers(1, 6, 20).astype(np.int32)),
        (rng.random(3, dtype=np.float32), np.array([2, 2, 2], np.int32)),  # one class, < TOP
        (np.zeros(0, np.float32), np.zeros(0, np.int32)),  # nothing to map over
    ]
    expected = [model(list(c)).numpy() for c in cases]
    with applied(model, {"mrcnn_detection": ["map_fn"]}):
        eager = [model(list(c)).numpy() for c in cases]
        tflite = lite.convert(model, SIG)
    assert lite.op_names(tflite) == {
        "WHILE", "UNIQUE", "SHAPE", "STRIDED_SLICE", "LESS", "LOGICAL_AND", "ADD", "GATHER",
        "EQUAL", "WHERE", "RESHAPE", "MINIMUM", "TOPK_V2", "SUB", "PACK", "PADV2", "REDUCE_PROD",
        "EXPAND_DIMS", "CONCATENATION", "FILL", "SLICE",
    }
    for case, e, x in zip(cases, expected, eager):
        # With zero elements TF's dtype-only map_fn returns shape (0,); with the signature it is
        # (0, TOP): same (no) values, better shape. Otherwise shapes are equal.
        e = e.reshape(-1, TOP)
        np.testing.assert_array_equal(x, e)
        np.testing.assert_array_equal(lite.run(tflite, *case)[0], e)


def test_dynamic_output_shape_keeps_original_with_warning():
    rule = get_rule("map_fn")
    elems = tf.constant([1, 2, 3])
    with pytest.warns(RuleNotApplied, match="not static"):
        out = rule.fn(tf.map_fn, lambda n: tf.range(n)[:1], elems, dtype=tf.int32)
    np.testing.assert_array_equal(out.numpy(), [[0], [0], [0]])


def test_traced_signature_matches_declared_structure():
    rule = get_rule("map_fn")
    elems = (tf.constant([[1.0, 2.0], [3.0, 4.0]]), tf.constant([5, 6]))

    def fn(pair):
        x, n = pair
        return {"sum": tf.reduce_sum(x) + tf.cast(n, tf.float32), "twice": 2 * x}

    out = rule.fn(tf.map_fn, fn, elems, dtype={"sum": tf.float32, "twice": tf.float32})
    expected = tf.map_fn(fn, elems, fn_output_signature={"sum": tf.float32, "twice": tf.float32})
    for k in ("sum", "twice"):
        np.testing.assert_array_equal(out[k].numpy(), expected[k].numpy())


MAX_DET = 5


class Detect(keras.layers.Layer):
    """Shape of mrcnn's detection refinement: set intersection, per-class NMS in map_fn, top-k."""

    def call(self, inputs):
        boxes, scores, class_ids = inputs  # [N, (y1, x1, y2, x2)] pixels, [N], [N] int32
        keep = tf.sets.intersection(tf.where(class_ids > 0)[:, 0][None],
                                    tf.where(scores >= 0.3)[:, 0][None])
        keep = tf.sparse.to_dense(keep)[0]
        ids, kept_scores, kept_boxes = (tf.gather(t, keep) for t in (class_ids, scores, boxes))

        def per_class(class_id):
            members = tf.where(tf.equal(ids, class_id))[:, 0]
            chosen = tf.image.non_max_suppression(tf.gather(kept_boxes, members),
                                                  tf.gather(kept_scores, members), MAX_DET, 0.4)
            chosen = tf.gather(keep, tf.gather(members, chosen))
            chosen = tf.pad(chosen, [[0, MAX_DET - tf.shape(chosen)[0]]], constant_values=-1)
            chosen.set_shape([MAX_DET])
            return chosen

        per = tf.reshape(tf.map_fn(per_class, tf.unique(ids).y, dtype=tf.int64), [-1])
        final = tf.sets.intersection(keep[None], tf.gather(per, tf.where(per > -1)[:, 0])[None])
        final = tf.sparse.to_dense(final)[0]
        order = tf.math.top_k(tf.gather(scores, final), tf.minimum(tf.size(final), MAX_DET)).indices
        return tf.gather(final, order)


def test_all_detection_rules_together(lite, rng):
    boxes, scores, ids = keras.Input((4,)), keras.Input(()), keras.Input((), dtype="int32")
    model = keras.Model([boxes, scores, ids], Detect(name="mrcnn_detection")([boxes, scores, ids]))
    sig = [tf.TensorSpec([None, 4]), tf.TensorSpec([None]), tf.TensorSpec([None], tf.int32)]
    with pytest.raises(Exception):
        lite.convert(model, sig)
    with applied(model, {"mrcnn_detection": ["map_fn", "nms", "set_operation"]}):
        tflite = lite.convert(model, sig)
    assert {"WHILE", "NON_MAX_SUPPRESSION_V4"} <= lite.op_names(tflite)
    assert not {"DenseToDenseSetOperation", "FlexDenseToDenseSetOperation"} & lite.op_names(tflite)
    lengths = []
    for n, low in ((30, 0.0), (8, 0.0), (6, 0.9)):  # many / few candidates / none confident
        corner = rng.uniform(0, 60, (n, 2))
        b = np.concatenate([corner, corner + rng.uniform(5, 30, (n, 2))], 1).astype(np.float32)
        s = rng.uniform(low, 1.0, n).astype(np.float32) * (0.25 if low else 1.0)
        c = rng.integers(0, 4, n).astype(np.int32)
        expected = model([b, s, c]).numpy()
        np.testing.assert_array_equal(lite.run(tflite, b, s, c)[0], expected)
        lengths.append(len(expected))
    assert lengths[0] == MAX_DET and 0 < lengths[1] and lengths[2] == 0, lengths


def test_decline_is_recorded_against_its_layer():
    """`applied` records the rule's own reason on the layer where it kept the original op."""
    import keras

    from rewrites import applied

    class Ragged(keras.layers.Layer):
        def call(self, n):
            return tf.map_fn(lambda k: tf.range(k)[:1], n, dtype=tf.int32)

    x = keras.Input((), dtype="int32", batch_size=3, name="n")
    model = keras.Model(x, Ragged(name="ragged")(x))
    with applied(model, {"ragged": ["map_fn"]}) as records:
        with pytest.warns(RuleNotApplied, match="not static"):
            model(tf.constant([1, 2, 3]))
    [rec] = records
    assert rec["layer"] == "ragged" and rec["rule"] == "map_fn"
    assert len(rec["declined"]) >= 1 and "not static" in rec["declined"][0]
