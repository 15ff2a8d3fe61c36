"""The rule registry: what rules exist, which ops and layers they answer, and loading third-party rules.

A rule is one small, documented substitution. It is registered by decorating its replacement
function with `@rule(...)` (one rule per file) and is found again by TF op type
(`rules_for_tf_op("FlexCropAndResize")`) or by Keras layer type (`rules_for_layer(td_layer)`).

Two kinds of rules exist; a rule is exactly one of them:

* **API rules** (`patches=` non-empty): while a planned layer's `call` runs, every call of the
  named Python functions (dotted paths such as
  `"tensorflow.python.ops.gen_image_ops.crop_and_resize"` or `"tf.image.crop_and_resize"`) goes to
  the rule function instead, as `fn(original, *args, **kwargs)`; `original` is the unpatched
  function, so a rule may fall back to it.
* **Layer rules** (`layer_types=` non-empty): the planned layer's own `call` is replaced by
  `fn(layer, call, *args, **kwargs)`; `call` is the layer's previous call.

Nothing here imports TensorFlow: listing rules is cheap and safe on the `inspect` path.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import re
import sys
import threading
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from opaudit.names import tf_op_type

ENTRY_POINT_GROUP = "opaudit.rules"


@dataclass(frozen=True)
class Rule:
    """One registered rewrite rule.

    name: unique rule name used in fix plans (`"crop_and_resize"`).
    tf_ops: TensorFlow op types it replaces (`("CropAndResize",)`); may be empty for layer rules.
    codes: finding codes (`opaudit.findings.Code`) it answers.
    emits: TFLite builtin operators the replacement lowers to.
    doc: why the replacement is correct (semantics kept, edge cases, limits).
    patches: dotted paths of the Python functions substituted while a planned layer runs.
    layer_types: Keras layer class names whose `call` this rule replaces.
    fn: the replacement (see the module docstring for its calling convention).
    module: the module that registered the rule.
    """

    name: str
    tf_ops: tuple[str, ...]
    codes: tuple[str, ...]
    emits: tuple[str, ...]
    doc: str
    patches: tuple[str, ...] = ()
    layer_types: tuple[str, ...] = ()
    fn: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    module: str = ""

    @property
    def kind(self) -> str:
        """"api" (substitutes functions) or "layer" (substitutes a layer's call)."""
        return "layer" if self.layer_types else "api"


class RuleNotApplied(UserWarning):
    """Warned by a rule that met an input it cannot rewrite and kept the original call.

    The message says why; the fix loop can record these with `warnings.catch_warnings(record=True)`.
    """


_RULES: dict[str, Rule] = {}
_LOCK = threading.Lock()
_LOADED_ENTRY_POINTS: set[str] = set()


def rule(
    *,
    tf_ops: Sequence[str],
    codes: Sequence[str],
    emits: Sequence[str],
    name: str | None = None,
    patches: Sequence[str] = (),
    layer_types: Sequence[str] = (),
    doc: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as a rule and return it unchanged.

    Args:
        tf_ops: TF op types replaced (`"CropAndResize"`, without `Flex`/`tf.` prefixes).
        codes: finding codes answered (`"FLEX_OP"`, `"CONVERTER_ERROR"`, ...).
        emits: TFLite builtins the replacement lowers to.
        name: rule name; defaults to the function name.
        patches: dotted function paths to substitute (API rule).
        layer_types: Keras layer class names whose call is substituted (layer rule).
        doc: correctness argument; defaults to the function's docstring.

    Raises:
        ValueError: neither or both of `patches`/`layer_types` given, no docstring, or the name is
            already taken by a rule from another module.
    """

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        rule_name = name or fn.__name__
        if bool(patches) == bool(layer_types):
            raise ValueError(f"rule {rule_name!r}: give exactly one of patches= or layer_types=")
        text = inspect.cleandoc(doc or fn.__doc__ or "")
        if not text:
            raise ValueError(f"rule {rule_name!r}: document why the rewrite is correct (doc=)")
        new = Rule(
            name=rule_name,
            tf_ops=tuple(tf_op_type(o) for o in tf_ops),
            codes=tuple(codes),
            emits=tuple(emits),
            doc=text,
            patches=tuple(patches),
            layer_types=tuple(layer_types),
            fn=fn,
            module=getattr(fn, "__module__", ""),
        )
        with _LOCK:
            old = _RULES.get(rule_name)
            if old is not None and not _same_origin(old, new):
                raise ValueError(
                    f"rule name {rule_name!r} is already registered by {old.module}; "
                    f"{new.module} must pick another name"
                )
            _RULES[rule_name] = new
        return fn

    return register


def _same_origin(old: Rule, new: Rule) -> bool:
    """Re-registering from the same file (a reload, or the same path loaded twice) replaces."""
    if old.module == new.module:
        return True
    return _source_file(old.fn) is not None and _source_file(old.fn) == _source_file(new.fn)


def _source_file(fn: Callable[..., Any] | None) -> str | None:
    try:
        return os.path.realpath(inspect.getsourcefile(fn)) if fn else None  # type: ignore[arg-type]
    except TypeError:
        return None


def all_rules() -> list[Rule]:
    """Every registered rule, sorted by name."""
    with _LOCK:
        return sorted(_RULES.values(), key=lambda r: r.name)


def get_rule(name: str) -> Rule:
    """The rule called `name`. Raises ValueError listing the known names if there is none."""
    with _LOCK:
        found = _RULES.get(name)
    if found is None:
        known = ", ".join(r.name for r in all_rules()) or "none"
        raise ValueError(f"unknown rewrite rule {name!r} (registered rules: {known})")
    return found


def rules_for_tf_op(tf_op: str) -> list[Rule]:
    """Rules replacing the TF op type `tf_op` (`CropAndResize`, `FlexCropAndResize`, `tf.CropAndResize`)."""
    op = tf_op_type(tf_op)
    return [r for r in all_rules() if op in r.tf_ops]


def rules_for_code(code: str) -> list[Rule]:
    """Rules that declare they answer the finding code `code` (`"NMS_PADDED_OUTPUT"`)."""
    return [r for r in all_rules() if code in r.codes]


def rules_for_layer(layer: Any) -> list[Rule]:
    """Layer rules whose `layer_types` names the class of `layer` or one of its base classes."""
    names = {cls.__name__ for cls in type(layer).__mro__}
    return [r for r in all_rules() if names.intersection(r.layer_types)]


def load_rules(paths: Sequence[str] = ()) -> None:
    """Import third-party rule modules so that their `@rule` decorators register.

    Args:
        paths: `.py` file paths (`--rules path/to/rules.py`) or importable module names
            (`mypkg.rules`). Modules named by the `opaudit.rules` entry-point group of installed
            distributions are imported too (once per process).

    Raises:
        ValueError: a path does not exist or is not importable.
    """
    for p in paths:
        if p.endswith(".py") or os.sep in p or os.path.exists(p):
            _import_file(p)
        else:
            try:
                importlib.import_module(p)
            except ImportError as e:
                raise ValueError(f"cannot import rule module {p!r}: {e}") from e
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        key = f"{ep.name}={ep.value}"
        if key not in _LOADED_ENTRY_POINTS:
            ep.load()
            _LOADED_ENTRY_POINTS.add(key)


def _import_file(path: str) -> None:
    real = os.path.realpath(path)
    if not os.path.isfile(real):
        raise ValueError(f"rule file not found: {path}")
    stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(real))[0])
    mod_name = f"opaudit_rules_{stem}_{zlib.crc32(real.encode()):08x}"
    spec = importlib.util.spec_from_file_location(mod_name, real)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot import rule file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(mod_name, None)
        raise
