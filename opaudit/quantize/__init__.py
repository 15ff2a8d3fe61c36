"""Quantized variants of a fixed model (`opaudit fix --quantize`), judged on the task.

Pure parts live here and need neither TensorFlow nor a runtime: the modes and their bars
(`modes`), task metrics (`metrics`), the selective-precision search (`precision`), the result
types (`result`) and the rows both renderers show (`summary`). `backends` and `tasks` run in
worker processes (the LiteRT Quantizer, the converter fallback, scoring); `opaudit.fix.quantize`
drives them; the per-layer noise is `opaudit.compare.quant_noise`. See docs/quantize.md.
"""
