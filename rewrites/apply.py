"""Applying rules to chosen layers of a live Keras model, scoped and reversibly.

`applied(model, plan)` wraps the `call` of each planned layer instance (an instance attribute;
the class is untouched) and, for API rules, replaces the patched module functions by dispatchers.
A dispatcher calls the rule only while a planned layer's `call` is running on this thread (the
innermost planned layer that has a rule for that function wins; sublayers called from a planned
layer inherit its rules); anywhere else it calls the original function. On exit every attribute is
restored, even after an error.
"""

from __future__ import annotations

import functools
import importlib
import threading
import warnings
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

from opaudit.names import strip_path_suffixes, strip_scope_suffix
from rewrites.registry import Rule, RuleNotApplied, get_rule

_local = threading.local()
_install_lock = threading.Lock()
_installed: dict[str, list[Any]] = {}  # path -> [owner, attr, original, dispatcher, refcount]


@dataclass
class _Frame:
    """The rules active while one planned layer's `call` runs, and where their declines go."""

    rules: dict[str, Rule]  # patched function path -> rule
    declined: dict[str, list[str]]  # rule name -> reasons (the list inside that rule's record)


def _run_rule(r: Rule, declined: dict[str, list[str]], fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Call a rule; every `RuleNotApplied` it warns is recorded under its name and re-warned."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuleNotApplied)
        out = fn(*args, **kwargs)
    for w in caught:
        if issubclass(w.category, RuleNotApplied):
            declined.setdefault(r.name, []).append(str(w.message))
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return out


def _frames() -> list[_Frame]:
    if not hasattr(_local, "frames"):
        _local.frames = []
    return _local.frames


def _resolve(path: str) -> tuple[Any, str]:
    """`"tf.image.crop_and_resize"` / `"tensorflow.python.ops.gen_image_ops.crop_and_resize"` ->
    (object owning the attribute, attribute name). Raises ValueError if it does not resolve."""
    parts = path.split(".")
    if parts[0] == "tf":
        parts[0] = "tensorflow"
    owner, rest = None, []
    for i in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        rest = parts[i:]
        break
    if owner is None:
        raise ValueError(f"cannot resolve patch target {path!r}")
    for name in rest[:-1]:
        owner = getattr(owner, name)
    if not hasattr(owner, rest[-1]):
        raise ValueError(f"patch target {path!r} does not exist")
    return owner, rest[-1]


def _make_dispatcher(path: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def dispatcher(*args: Any, **kwargs: Any) -> Any:
        for frame in reversed(_frames()):
            chosen = frame.rules.get(path)
            if chosen is not None:
                return _run_rule(chosen, frame.declined, chosen.fn, original, *args, **kwargs)
        return original(*args, **kwargs)

    dispatcher.__opaudit_patch__ = path  # type: ignore[attr-defined]
    return dispatcher


@contextmanager
def _patched(path: str) -> Iterator[None]:
    """Install (or share) the dispatcher for `path` for the duration of the block."""
    with _install_lock:
        entry = _installed.get(path)
        if entry is None:
            owner, attr = _resolve(path)
            original = getattr(owner, attr)
            dispatcher = _make_dispatcher(path, original)
            setattr(owner, attr, dispatcher)
            entry = _installed[path] = [owner, attr, original, dispatcher, 0]
        entry[4] += 1
    try:
        yield
    finally:
        with _install_lock:
            entry[4] -= 1
            if entry[4] == 0:
                setattr(entry[0], entry[1], entry[2])
                del _installed[path]


@contextmanager
def _wrapped_call(layer: Any, api_rules: list[Rule], layer_rules: list[Rule],
                  declined: dict[str, list[str]]) -> Iterator[None]:
    """Replace `layer.call` by a wrapper that activates `api_rules` and chains `layer_rules`;
    the reasons a rule declines on this layer are appended to ``declined[rule_name]``."""
    had_own = "call" in layer.__dict__
    previous = layer.__dict__.get("call")
    call = layer.call
    for r in layer_rules:
        call = _bind_layer_rule(r, layer, call, declined)
    frame = _Frame({p: r for r in api_rules for p in r.patches}, declined)

    @functools.wraps(layer.call)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        frames = _frames()
        frames.append(frame)
        try:
            return call(*args, **kwargs)
        finally:
            frames.pop()

    object.__setattr__(layer, "call", wrapper)
    try:
        yield
    finally:
        if had_own:
            object.__setattr__(layer, "call", previous)
        else:
            object.__delattr__(layer, "call")


def _bind_layer_rule(r: Rule, layer: Any, call: Callable[..., Any],
                     declined: dict[str, list[str]]) -> Callable[..., Any]:
    def bound(*args: Any, **kwargs: Any) -> Any:
        return _run_rule(r, declined, r.fn, layer, call, *args, **kwargs)

    return bound


def layer_index(model: Any) -> dict[str, Any]:
    """Every sublayer of `model`, recursively, keyed by its path (`"rpn_model/rpn_conv_shared"`).

    The model itself is not included. A layer reachable by two paths appears under both.
    """
    out: dict[str, Any] = {}

    def children(parent: Any) -> list[Any]:
        if hasattr(parent, "_flatten_layers"):  # Keras 3: tracked sublayers, any model style
            return parent._flatten_layers(include_self=False, recursive=False)
        return list(getattr(parent, "layers", []))

    def walk(parent: Any, prefix: str, seen: set[int]) -> None:
        for child in children(parent):
            path = f"{prefix}{child.name}"
            out.setdefault(path, child)
            if id(child) not in seen:
                walk(child, path + "/", seen | {id(child)})

    walk(model, "", {id(model)})
    return out


def find_layer(model: Any, key: str) -> Any:
    """The layer named by a path (`"rpn_model/rpn_conv_shared"`) or a unique bare name (`"ROI"`).

    A leading `"<model.name>/"` is accepted. If nothing matches, TF name-scope suffixes that
    Keras 3 adds when tracing (`"ROI_1"`, `"functional_1/roi_align_1"`) are dropped and the
    look-up is tried once more. Raises ValueError if the layer is unknown or ambiguous.
    """
    index = layer_index(model)
    k = key.strip("/")
    found = _lookup(index, model.name, k, key)
    if found is None:
        found = _lookup(index, strip_scope_suffix(model.name), strip_path_suffixes(k), key)
    if found is None:
        sample = ", ".join(sorted(index)[:20]) + (" ..." if len(index) > 20 else "")
        raise ValueError(f"no layer {key!r} in model {model.name!r} (layers: {sample})")
    return found


def _lookup(index: dict[str, Any], model_name: str, k: str, key: str) -> Any:
    """Exact path, path without the model's name, then unique last segment; None if no match."""
    for candidate in (k, k[len(model_name) + 1 :] if k.startswith(model_name + "/") else None):
        if candidate in index:
            return index[candidate]
    if "/" in k:
        return None
    matches = {id(v): v for p, v in index.items() if p.rsplit("/", 1)[-1] == k}
    if len(matches) > 1:
        paths = sorted(p for p in index if p.rsplit("/", 1)[-1] == k)
        raise ValueError(f"layer name {key!r} is ambiguous in this model: use a path {paths}")
    return next(iter(matches.values()), None)


@contextmanager
def applied(model: Any, plan: Mapping[str, Sequence[str]]) -> Iterator[list[dict[str, str]]]:
    """Apply rules to chosen layers of `model` for the duration of the block.

    Args:
        model: any built Keras 3 model (Functional, Sequential or subclassed, possibly nested).
        plan: `{layer_path_or_unique_name: [rule_name, ...]}`.

    Yields:
        One record per (layer, rule): `{"rule", "layer", "layer_type", "declined"}`; ``declined``
        fills, while the block runs, with the messages of the `RuleNotApplied` warnings the rule
        gave on that layer (it kept the original op there).

    Raises:
        ValueError: unknown or ambiguous layer, unknown rule, a layer rule planned on a layer of
            another type, or two rules replacing the same function on one layer. Nothing is
            patched when this is raised.

    Only Python that runs inside the block sees the rules: convert (or trace) inside it. Graphs
    traced before (an existing `model.predict` function, a traced `tf.function`) are unchanged.
    """
    targets, records = _resolve_plan(model, plan)
    with ExitStack() as stack:
        for path in sorted({p for _, api, _, _ in targets for r in api for p in r.patches}):
            stack.enter_context(_patched(path))
        for layer, api_rules, layer_rules, declined in targets:
            stack.enter_context(_wrapped_call(layer, api_rules, layer_rules, declined))
        yield records


def _resolve_plan(model: Any, plan: Mapping[str, Sequence[str]]):
    """Check the plan; return ([(layer, api_rules, layer_rules, declined)], records)."""
    targets: dict[int, tuple[Any, list[Rule], list[Rule], dict[str, list[str]]]] = {}
    records: list[dict[str, Any]] = []
    for key, names in plan.items():
        layer = find_layer(model, key)
        _, api_rules, layer_rules, declined = targets.setdefault(id(layer), (layer, [], [], {}))
        for n in [names] if isinstance(names, str) else names:
            r = get_rule(n)
            if r.kind == "layer":
                kinds = {c.__name__ for c in type(layer).__mro__}
                if not kinds.intersection(r.layer_types):
                    raise ValueError(f"rule {r.name!r} rewrites {'/'.join(r.layer_types)} layers; "
                                     f"layer {key!r} is a {type(layer).__name__}")
                if r not in layer_rules:
                    layer_rules.append(r)
            elif r not in api_rules:
                clash = [o.name for o in api_rules if set(o.patches) & set(r.patches)]
                if clash:
                    raise ValueError(f"rules {clash[0]!r} and {r.name!r} both replace "
                                     f"{sorted(set(r.patches))} on layer {key!r}: pick one")
                api_rules.append(r)
            records.append({"rule": r.name, "layer": key, "layer_type": type(layer).__name__,
                            "declined": declined.setdefault(r.name, [])})
    return list(targets.values()), records
