"""Small models built at test time, each containing one of the ops people trip over.

`build_all(folder)` converts them (TF is imported lazily) and returns `{name: path}`:
- `flex`: Keras model with CropAndResize (layer `roi_align`) and tf.sets.intersection
  (layer `set_layer`), converted with Select TF ops -> two Flex nodes.
- `custom`: the same model converted with `allow_custom_ops` -> two unresolved custom ops.
- `clean`: Conv2D -> GAP -> Dense, builtin only; `clean_dbg` the same with debug metadata.
- `nms`: tf.function with tf.image.non_max_suppression (V3) -> builtin NON_MAX_SUPPRESSION_V4
  whose valid count is dropped (the silent padding trap).
- `map_fn`: a simple dynamic-length tf.map_fn: lowers to builtin WHILE even with Select TF on.
- `map_flex`: dynamic tf.map_fn with per-class NMS inside, Select TF ops -> Flex TensorList ops.
- `td`: Keras 3 TimeDistributed(Conv2D) over 12 steps -> 12 identical CONV_2D nodes.
- `where_custom`: a data-dependent WHERE before a custom op: allocate passes, invoke fails.
"""

from __future__ import annotations

from pathlib import Path


def _keras_demo():
    import keras
    import tensorflow as tf

    class ROIAlign(keras.layers.Layer):
        def call(self, x, boxes):
            b = tf.reshape(boxes, [-1, 4])
            idx = tf.zeros([tf.shape(b)[0]], tf.int32)
            return tf.image.crop_and_resize(x, b, idx, [7, 7])

    class Sets(keras.layers.Layer):
        def call(self, a):
            ids = tf.cast(tf.argmax(a, -1), tf.int32)
            s = tf.sets.intersection(tf.expand_dims(ids, 0), tf.constant([[1, 2, 3]], tf.int32))
            return tf.cast(tf.sparse.to_dense(s), tf.float32)

    img = keras.Input((32, 32, 3), batch_size=1, name="image")
    bx = keras.Input((5, 4), batch_size=1, name="boxes")
    f = keras.layers.Conv2D(4, 3, padding="same", name="backbone_conv")(img)
    r = ROIAlign(name="roi_align")(f, bx)
    s = Sets(name="set_layer")(keras.layers.Flatten(name="flatten")(r))
    return keras.Model([img, bx], [r, s], name="demo")


def _convert(obj, mode: str = "builtin", debug: bool = False) -> bytes:
    import tensorflow as tf

    if isinstance(obj, tf.types.experimental.ConcreteFunction):
        c = tf.lite.TFLiteConverter.from_concrete_functions([obj])
    else:
        c = tf.lite.TFLiteConverter.from_keras_model(obj)
    if mode == "flex":
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    elif mode == "custom":
        c.allow_custom_ops = True
    c.serialize_debug_metadata = debug
    return c.convert()


def build_all(folder: Path) -> dict[str, Path]:
    import keras
    import tensorflow as tf

    out: dict[str, bytes] = {}
    demo = _keras_demo()
    out["flex"] = _convert(demo, "flex")
    out["custom"] = _convert(demo, "custom")
    clean = keras.Sequential([
        keras.Input((16, 16, 3), batch_size=1), keras.layers.Conv2D(4, 3, name="c1"),
        keras.layers.GlobalAveragePooling2D(name="gap"), keras.layers.Dense(3, name="head"),
    ], name="clean")
    out["clean"] = _convert(clean)
    out["clean_dbg"] = _convert(clean, debug=True)

    @tf.function(input_signature=[tf.TensorSpec([20, 4], tf.float32), tf.TensorSpec([20], tf.float32)])
    def nms(boxes, scores):
        keep = tf.image.non_max_suppression(boxes, scores, 10, 0.5)
        return tf.gather(boxes, keep)

    out["nms"] = _convert(nms.get_concrete_function())

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def dyn_map(x):
        return tf.map_fn(lambda v: v * 2.0 + 1.0, x)

    out["map_fn"] = _convert(dyn_map.get_concrete_function(), "flex")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([20, 4], tf.float32),
                                  tf.TensorSpec([20], tf.float32)])
    def per_class_nms(ids, boxes, scores):
        def one(c):
            keep = tf.image.non_max_suppression(boxes, scores * tf.cast(c, tf.float32), 5, 0.5)
            return tf.pad(keep, [[0, 5 - tf.shape(keep)[0]]], constant_values=-1)

        return tf.map_fn(one, ids)

    out["map_flex"] = _convert(per_class_nms.get_concrete_function(), "flex")

    x = keras.Input((12, 7, 7, 8), batch_size=1, name="rois")
    y = keras.layers.TimeDistributed(keras.layers.Conv2D(16, 7), name="mrcnn_class_conv1")(x)
    out["td"] = _convert(keras.Model(x, y, name="td"))

    @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 1], tf.float32), tf.TensorSpec([6], tf.float32)])
    def where_custom(img, v):
        rows = tf.where(v > 0.5)[:, 0]  # data-dependent length: shapes known only at invoke
        boxes = tf.tile(tf.constant([[0.0, 0.0, 1.0, 1.0]]), tf.stack([tf.size(rows), 1]))
        return tf.image.crop_and_resize(img, boxes, tf.zeros_like(rows, tf.int32), [2, 2])

    out["where_custom"] = _convert(where_custom.get_concrete_function(), "custom")
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, data in out.items():
        p = folder / f"{name}.tflite"
        p.write_bytes(data)
        paths[name] = p
    return paths
