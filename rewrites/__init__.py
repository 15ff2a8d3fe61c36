"""Rewrite rules for `opaudit fix`: make Keras layers lower to TFLite builtin ops only.

Public API (the fix loop relies on exactly this):

* `Rule`, `rule(...)`: the rule record and the decorator that registers one rule per file.
* `all_rules()`, `rules_for_tf_op(op)`, `rules_for_layer(layer)`: look-ups (plus `get_rule`,
  `rules_for_code`, `find_layer`, `layer_index`).
* `load_rules(paths)`: import third-party rule files/modules and the `opaudit.rules` entry points.
* `applied(model, plan)`: context manager applying `{layer: [rule, ...]}` to a live model.

Importing this package registers the built-in rules and does not import TensorFlow; rule
functions import it when they run. See docs/rewrites.md for writing a rule.
"""

from rewrites.apply import applied, find_layer, layer_index
from rewrites.registry import (
    ENTRY_POINT_GROUP,
    Rule,
    RuleNotApplied,
    all_rules,
    get_rule,
    load_rules,
    rule,
    rules_for_code,
    rules_for_layer,
    rules_for_tf_op,
)

# Built-in rules register on import (one rule per module).
from rewrites import crop_and_resize, full_window_conv, map_fn, nms, set_operation, time_distributed  # noqa: E402,F401

__all__ = [
    "ENTRY_POINT_GROUP",
    "Rule",
    "RuleNotApplied",
    "all_rules",
    "applied",
    "find_layer",
    "get_rule",
    "layer_index",
    "load_rules",
    "rule",
    "rules_for_code",
    "rules_for_layer",
    "rules_for_tf_op",
]
