#!/usr/bin/env python3
"""Regenerate `opaudit/data/op_support.json` from a TensorFlow / LiteRT source tree.

    tools/regen_op_support.py --tf-src PATH [--out FILE] [--tf-version 2.21.0] [--scan-runtime]

`PATH` is laid out like a checkout: each input is looked up under its TensorFlow path
(`tensorflow/lite/...`) and its LiteRT path (`tflite/...`), first found wins:

* the stock op resolver (`core/kernels/register.cc`): AddBuiltin / AddCustom entries;
* the Flex allowlist (`delegates/flex/allowlisted_flex_ops.cc`);
* the GPU compatibility checks (`tools/versioning/gpu_compatibility.cc`);
* the XNNPACK delegate README (`delegates/xnnpack/README.md`), split by headings;
* the XNNPACK delegate (`delegates/xnnpack/xnnpack_delegate.cc`): the custom ops it takes
  (`strcmp(registration->custom_name, "...")`), MediaPipe's deconvolution and pooling.

An optional `SOURCES.json` at the root maps relative paths to `{"repo", "commit"}` and is
copied into `sources`. The builtin op list comes from `--schema` (a `schema.fbs` or a
`schema_py_generated.py`), else the tree's schema.fbs, else the installed ai_edge_litert.
`--scan-runtime` also asks the installed runtimes which op versions their resolvers accept
(`tools/_runtime_scan` logic below; imports ai_edge_litert / tensorflow, never needed by opaudit).
No network access: everything is read from disk.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from pathlib import Path

SCHEMA_VERSION = 1
RESOLVER = ("tflite/core/kernels/register.cc", "tensorflow/lite/core/kernels/register.cc",
            "tensorflow/lite/kernels/register.cc")
FLEX = ("tensorflow/lite/delegates/flex/allowlisted_flex_ops.cc",
        "tflite/delegates/flex/allowlisted_flex_ops.cc")
GPU = ("tflite/tools/versioning/gpu_compatibility.cc",
       "tensorflow/lite/tools/versioning/gpu_compatibility.cc")
XNN = ("tflite/delegates/xnnpack/README.md", "tensorflow/lite/delegates/xnnpack/README.md")
XNN_DELEGATE = ("tflite/delegates/xnnpack/xnnpack_delegate.cc",
                "tensorflow/lite/delegates/xnnpack/xnnpack_delegate.cc")
# Custom ops the XNNPACK delegate visits (MediaPipe's): the checks its visitor applies that
# opaudit evaluates (the deconvolution's filter and bias must be static).
XNN_CUSTOM_CHECKS = {"Convolution2DTransposeBias": {"static_inputs": [1, 2]},
                     "MaxPoolingWithArgmax2D": {"num_outputs": [2]},
                     "MaxUnpooling2D": {"num_inputs": [2]}}
SCHEMA = ("tensorflow/compiler/mlir/lite/schema/schema.fbs", "tensorflow/lite/schema/schema.fbs",
          "tflite/schema/schema.fbs")

FLEX_STATEMENT = (
    "Select TF (Flex) ops need the Flex delegate. Neither pip runtime links it in TF 2.21 "
    "(tf.lite.Interpreter, ai_edge_litert.interpreter.Interpreter): a Flex op fails to prepare on "
    "cpu, and no delegate (XNNPACK, GPU) takes it.")
GPU_STATEMENT = (
    "GPU delegate: per-op checks parsed from gpu_compatibility.cc. Not parsed (model_builder.cc): "
    "per-op maximum versions and tensor type checks. The delegate computes in float32/float16; "
    "quantized int8/uint8 only when quantized-model support is enabled; opaudit treats dynamic "
    "shapes as not delegated.")
XNN_STATEMENT = (
    "XNNPACK: operators listed in the delegate README (which can lag the delegate code). "
    "'yes' = listed for float32 with the constraints given; 'partial' = listed for 8-bit quantized "
    "only (needs a build with XNNPACK quantized inference).")

# Generic GPU helper calls -> sentence (their own error strings are not collected).
GPU_HELPERS = {
    "CheckConvoultionInputOutput": "1 or 2 runtime inputs (weights may be constant), 1 output",
    "CheckStridesAndDilation": "strides and dilations > 0",
    "CheckKernelsAndStrides": "kernel size and strides > 0",
    "CheckStrides": "strides > 0",
    "CheckAxesAreInt32Const": "axes must be a constant int32 tensor",
    "CheckAddMulBroadcastCompatibility": "broadcasting between inputs of different ranks is limited",
}
GPU_SILENT = {"RetrieveBuiltinData", "RetrieveCustomInitialData", "CheckTensorIsAvailable",
              "GetNumberOfRuntimeInputs", "NumElements", "GetSizeOfType", "CheckIsBroadcastable"}
ACT_NAMES = {"None": "NONE", "Relu": "RELU", "ReluN1To1": "RELU_N1_TO_1", "Relu6": "RELU6",
             "Tanh": "TANH", "Sigmoid": "SIGMOID", "SignBit": "SIGN_BIT"}


def find(root: Path, candidates: tuple[str, ...]) -> tuple[str, str] | None:
    for rel in candidates:
        p = root / rel
        if p.is_file():
            return rel, p.read_text(encoding="utf-8")
    return None


def strip_comments(src: str) -> str:
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    return re.sub(r"//[^\n]*", "", src)


def norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


# ----------------------------------------------------------------------------- schema
def parse_schema_ops(text: str) -> dict[str, int]:
    """BuiltinOperator names -> codes, from schema.fbs or a schema_py_generated.py."""
    m = re.search(r"enum BuiltinOperator\s*:\s*\w+\s*\{(.*?)\}", text, re.S)
    if m:
        body = strip_comments(m.group(1))
    else:
        m = re.search(r"class BuiltinOperator\(object\):\n(.*?)(?:\n\n|\Z)", text, re.S)
        if not m:
            raise ValueError("no BuiltinOperator enum found")
        body = m.group(1).replace("\n", ",")
    return {k: int(v) for k, v in re.findall(r"(\w+)\s*=\s*(-?\d+)", body)}


def load_schema(root: Path, schema: str | None) -> tuple[str, dict[str, int]]:
    if schema:
        return schema, parse_schema_ops(Path(schema).read_text(encoding="utf-8"))
    got = find(root, SCHEMA)
    if got:
        return got[0], parse_schema_ops(got[1])
    spec = importlib.util.find_spec("ai_edge_litert")  # locates, does not import
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("no schema: pass --schema")
    p = Path(list(spec.submodule_search_locations)[0]) / "schema_py_generated.py"
    return f"ai_edge_litert/{p.name}", parse_schema_ops(p.read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- resolver
def parse_resolver(text: str) -> tuple[dict[str, list[int]], list[str]]:
    """AddBuiltin(BuiltinOperator_X, Register_X(), [min, max]) -> {X: [min, max]}; AddCustom names."""
    src = strip_comments(text)
    builtins: dict[str, list[int]] = {}
    for m in re.finditer(r"AddBuiltin\(\s*BuiltinOperator_(\w+)\s*,(.*?)\)\s*;", src, re.S):
        ints = [int(a) for a in (x.strip() for x in m.group(2).split(",")) if a.isdigit()]
        builtins[m.group(1)] = [ints[0], ints[1]] if len(ints) >= 2 else [1, 1]
    customs = re.findall(r'AddCustom\(\s*"([^"]+)"', src)
    return builtins, customs


# ----------------------------------------------------------------------------- flex
def parse_flex(text: str) -> dict[str, list[str]]:
    src = strip_comments(text)
    out = {}
    for key, fn in (("main", "GetFlexAllowlist"), ("tftext", "GetTFTextFlexAllowlist"),
                    ("sentencepiece", "GetSentencePieceFlexAllowlist")):
        m = re.search(fn + r"\(\)\s*\{.*?std::set<std::string>\(\{(.*?)\}\)", src, re.S)
        out[key] = sorted(set(re.findall(r'"([^"]+)"', m.group(1)))) if m else []
    return out


# ----------------------------------------------------------------------------- gpu
def function_bodies(src: str) -> dict[str, str]:
    """Top-level `absl::Status Name(...) {...}` bodies, by brace matching."""
    out = {}
    for m in re.finditer(r"absl::Status\s+(\w+)\s*\([^{;]*\)\s*\{", src):
        depth, i = 1, m.end()
        while depth and i < len(src):
            depth += {"{": 1, "}": -1}.get(src[i], 0)
            i += 1
        out.setdefault(m.group(1), src[m.end():i - 1])
    return out


def first_block(text: str) -> str:
    """Content of the first {...} in `text` (or `text` when it has none)."""
    start = text.find("{")
    if start < 0:
        return text
    depth, i = 1, start + 1
    while depth and i < len(text):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[start + 1:i - 1]


def error_messages(body: str) -> list[str]:
    msgs = []
    for m in re.finditer(r"absl::\w+Error\(\s*(?:absl::StrCat\(\s*)?((?:\"(?:[^\"\\]|\\.)*\"\s*)+)", body):
        raw = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1))).replace("\\n", "")
        text = re.sub(r"(,? got\b.*|,? but .*|\. But .*| - .*)$", "", raw).strip()
        if raw.rstrip().endswith(":") and ". " in text:
            text = text.rsplit(". ", 1)[0]  # drop a trailing "Label:" that printed a value
        text = text.strip(" .:,")
        if len(text) > 14 and not text.startswith(("Could not parse", "Unable to retrieve")):
            msgs.append(text)
    return msgs


def describe_gpu(body: str, fns: dict[str, str], acts: str, seen: set[str] | None = None) -> list[str]:
    seen = set() if seen is None else seen
    parts: list[str] = []
    io = []
    for m in re.finditer(r"CheckInputs(Consts)?Outputs\(\s*op_sig\s*,([^)]*)\)", body):
        nums = [int(n) for n in re.findall(r"(?<![\w])(\d+)\b", m.group(2))]
        if m.group(1) and len(nums) == 3:
            io.append(f"{nums[0]} runtime + {nums[1]} constant input(s), {nums[2]} output(s)")
        elif len(nums) == 2:
            io.append(f"{nums[0]} runtime input(s), {nums[1]} output(s)")
    if io:
        parts.append(" or ".join(dict.fromkeys(io)))
    for name in dict.fromkeys(re.findall(r"\b(\w+)\(", body)):
        if name in GPU_HELPERS:
            parts.append(GPU_HELPERS[name])
        elif name == "IsActivationSupported":
            parts.append(f"fused activation {acts}")
        elif name in fns and name not in seen and name not in GPU_SILENT and name.startswith("Check"):
            seen.add(name)
            parts += describe_gpu(fns[name], fns, acts, seen)
    types = sorted(set(re.findall(r"kTfLite(Float16|BFloat16|Float32|Int4|Int8|Int16|Int32|Int64|UInt8|Bool)\b", body)))
    if types:
        parts.append("checks tensor types (" + ", ".join(t.lower() for t in types) + ")")
    msgs = [m for m in dict.fromkeys(error_messages(body)) if m not in parts]
    if msgs:
        parts.append("reports: " + "; ".join(f'"{m}"' for m in msgs))
    return list(dict.fromkeys(parts))


def gpu_io(body: str, fns: dict[str, str]) -> list[list[int | None]]:
    """Accepted (runtime inputs, constant inputs or None, outputs) combinations, when checked."""
    io: list[list[int | None]] = []
    if re.search(r"\bswitch\s*\(", body):
        return io  # input counts depend on options (e.g. LSTM kernel type): not checkable here
    for m in re.finditer(r"CheckInputs(Consts)?Outputs\(\s*op_sig\s*,([^)]*)\)", body):
        nums = [int(n) for n in re.findall(r"(?<![\w])(\d+)\b", m.group(2))]
        io.append([nums[0], nums[1], nums[2]] if m.group(1) and len(nums) == 3 else [nums[0], None, nums[-1]])
    if "CheckConvoultionInputOutput" in body:
        io += [[1, None, 1], [2, None, 1]]
    for name in re.findall(r"\b(Check\w+GpuDelegateCompatibility)\(", body):
        if name in fns and fns[name] is not body:
            io += gpu_io(fns[name], {k: v for k, v in fns.items() if k != name})
    return io


def parse_gpu(text: str, ops: dict[str, int]) -> tuple[dict[str, dict], dict[str, dict]]:
    src = strip_comments(text)
    fns = function_bodies(src)
    act_body = fns.get("IsActivationSupported", "")
    ok_part = act_body.split("absl::OkStatus()")[0]
    acts = "/".join(ACT_NAMES.get(a, a.upper()) for a in re.findall(r"kTfLiteAct(\w+)", ok_part))
    main = fns.get("CheckGpuDelegateCompatibility", "")
    main = main.split("default:")[0]
    by_norm = {norm(k): k for k in ops}
    table: dict[str, dict] = {}
    pending: list[str] = []
    labels = list(re.finditer(r"case\s+kTfLiteBuiltin(\w+)\s*:", main))
    for i, m in enumerate(labels):
        end = labels[i + 1].start() if i + 1 < len(labels) else len(main)
        body = main[m.end():end]
        pending.append(m.group(1))
        if not re.sub(r"[\s{}]", "", body):
            continue  # falls through to the next label
        checks = describe_gpu(body, fns, acts)
        for label in pending:
            op = by_norm.get(norm(label))
            if op is None or op == "CUSTOM":
                continue
            table[op] = {"status": "partial" if checks else "yes",
                         "constraints": "; ".join(checks) if checks else "no op-specific checks"}
            if io := gpu_io(body, fns):
                table[op]["io"] = io
        pending = []
    customs = {}
    cbody = fns.get("CheckCustomOpsGpuDelegateCompatibility", "")
    blocks = re.split(r'if\s*\(\s*op_sig\.custom_name\s*==\s*"([^"]+)"\s*\)', cbody)
    for name, block in zip(blocks[1::2], blocks[2::2]):
        block = first_block(block)
        checks = describe_gpu(block, fns, acts)
        customs[name] = {"status": "partial" if checks else "yes",
                         "constraints": "; ".join(checks) if checks else "no op-specific checks"}
        if io := gpu_io(block, fns):
            customs[name]["io"] = io
    return table, customs


# ----------------------------------------------------------------------------- xnnpack
def parse_xnnpack(md: str) -> dict[str, dict[str, list[str]]]:
    """{OP: {"fp32": [bullets], "quantized": [bullets]}} from `### ...Operators` / `#### `OP``."""
    out: dict[str, dict[str, list[str]]] = {}
    kind = None
    op = None
    for line in md.splitlines():
        h3 = re.match(r"###\s+(?!#)(.*)", line)
        h4 = re.match(r"####\s+`(\w+)`", line)
        if h3:
            title = h3.group(1)
            kind = ("quantized" if "Quantized" in title else
                    "fp32" if "Floating-Point" in title and "FP16" not in title else None)
            op = None
        elif line.startswith("#"):
            op = h4.group(1) if (h4 and kind) else None
            if op:
                out.setdefault(op, {}).setdefault(kind, [])
        elif op and kind:
            bullet = re.match(r"\s*\*\s+(.*)", line)
            if bullet:
                out[op][kind].append(bullet.group(1).strip())
            elif line.strip() and out[op][kind]:
                out[op][kind][-1] += " " + line.strip()
    return out


def parse_xnnpack_custom(src: str) -> list[str]:
    """Custom op names the XNNPACK delegate compares `registration->custom_name` against."""
    found = re.findall(r'custom_name\s*,\s*"([^"]+)"\s*\)\s*==\s*0', strip_comments(src))
    return sorted(set(found))


def xnn_custom_entry(name: str) -> dict:
    entry = {"status": "yes", "constraints": "custom op implemented by the XNNPACK delegate; float32 tensors"}
    if name in XNN_CUSTOM_CHECKS:
        entry["checks"] = XNN_CUSTOM_CHECKS[name]
    return entry


def clean_bullet(b: str) -> str:
    b = re.sub(r"\s*\(use `?kTfLiteMmapRo`? allocation type\)", " (constant)", b).replace("`", "")
    b = re.sub(r"Fused (.*?) activations are supported, but fused (.*?) activations are not",
               lambda m: "fused activation %s only (not %s)" % tuple(
                   "/".join(re.split(r",\s*(?:and\s+)?|\s+and\s+", g)) for g in m.groups()), b)
    return b.replace("Inputs and outputs must be in 32-bit floating-point format",
                     "float32 inputs and outputs").rstrip(".")


ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3}
WORDS = {"one": 1, "two": 2, "three": 3, "four": 4}
ROLES = {"filter": 1, "bias": 2, "slope": 1, "output size": 0}
ROLES_BY_OP = {"TRANSPOSE_CONV": {"output size": 0, "filter": 1, "bias": 3}}


def xnn_checks(op: str, bullets: list[str]) -> dict:
    """Graph-checkable facts from README bullets: constant inputs, input/output counts, bias."""
    out: dict = {}
    for b in bullets:
        low = b.lower()
        if "must be static" in low or "must be either static" in low:
            subject = low.split("must be")[0]
            idx = [i for w, i in ORDINALS.items() if re.search(rf"\b{w}\b", subject)]
            roles = ROLES_BY_OP.get(op, ROLES)
            idx += [i for w, i in roles.items() if w in subject]
            out.setdefault("static_inputs", [])
            out["static_inputs"] = sorted(set(out["static_inputs"] + idx))
        m = re.match(r"only .*?\b((?:(?:one|two|three|four),?\s*(?:or\s+)?)+)(inputs|outputs)", low)
        if m:
            out["num_" + m.group(2)] = sorted(WORDS[w] for w in re.findall(r"one|two|three|four", m.group(1)))
        if "bias is mandatory" in low:
            out["bias_required"] = True
    return out


# ----------------------------------------------------------------------------- runtime scan
def _tiny_model(code: int, version: int, custom: str | None = None) -> bytes:
    """One-op float model [1, 4] -> [1, 4] with the given op code (flatbuffers object API)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    oc = s.OperatorCodeT()
    oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), version
    if custom:
        oc.customCode = custom
    tensors = []
    for i in range(2):
        t = s.TensorT()
        t.shape, t.type, t.buffer, t.name = [1, 4], s.TensorType.FLOAT32, 0, f"t{i}"
        tensors.append(t)
    op = s.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    if custom:  # kernels parse their options as a flexbuffer map at init: give them a valid one
        from flatbuffers import flexbuffers
        op.customOptions = list(flexbuffers.Dumps({"unused": 0}))
    sg = s.SubGraphT()
    sg.tensors, sg.inputs, sg.outputs, sg.operators = tensors, [0], [1], [op]
    m = s.ModelT()
    m.version, m.operatorCodes, m.subgraphs, m.buffers = 3, [oc], [sg], [s.BufferT()]
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _interpreter(runtime: str):
    if runtime == "tensorflow":
        import tensorflow as tf
        return tf.lite.Interpreter, f"tensorflow {tf.__version__}"
    import importlib.metadata as md
    from ai_edge_litert.interpreter import Interpreter
    return Interpreter, f"ai_edge_litert {md.version('ai-edge-litert')}"


def _scan_child(runtime: str, custom: str | None) -> None:
    """Child process: print JSON of what the runtime's resolver accepts (crash-isolated)."""
    import warnings
    warnings.filterwarnings("ignore")
    from ai_edge_litert import schema_py_generated as s
    interp, label = _interpreter(runtime)
    if custom:  # unresolved custom ops fail at prepare with a recognisable message
        try:
            interp(model_content=_tiny_model(32, 1, custom)).allocate_tensors()
            ok = True
        except Exception as e:  # noqa: BLE001 - any other failure means the kernel was found
            ok = "unresolved custom op" not in str(e)
        print(json.dumps({"runtime": label, "custom": custom, "resolved": ok}))
        return
    out = {}
    for name, code in vars(s.BuiltinOperator).items():
        if name.startswith("_") or name == "CUSTOM":
            continue
        accepted = []
        for v in range(1, 17):
            try:
                interp(model_content=_tiny_model(code, v))
                accepted.append(v)
            except Exception as e:  # noqa: BLE001
                if "Didn't find op" not in str(e):
                    accepted.append(v)  # resolved; failed later for an unrelated reason
        out[name] = [min(accepted), max(accepted)] if accepted else None
    print(json.dumps({"runtime": label, "builtins": out}))


def scan_runtimes(customs: list[str]) -> dict:
    import subprocess
    result: dict = {}
    for runtime in ("ai_edge_litert", "tensorflow"):
        if importlib.util.find_spec(runtime) is None:
            continue
        cmd = [sys.executable, __file__, "--_scan-child", runtime]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
        line = [x for x in run.stdout.splitlines() if x.startswith("{")]
        if not line:
            continue
        got = json.loads(line[-1])
        entry = result.setdefault(got["runtime"], {"builtins": got["builtins"], "custom": {}})
        for c in customs:
            r = subprocess.run(cmd + ["--custom", c], capture_output=True, text=True, timeout=300)
            lines = [x for x in r.stdout.splitlines() if x.startswith("{")]
            entry["custom"][c] = json.loads(lines[-1])["resolved"] if lines else f"crashed ({r.returncode})"
    return result


# ----------------------------------------------------------------------------- assembly
def tf_version(root: Path, given: str | None) -> str:
    if given:
        return given
    for rel, pat in (("tensorflow/tf_version.bzl", r'TF_VERSION\s*=\s*"([^"]+)"'),
                     ("tensorflow/tools/pip_package/setup.py", r"_VERSION\s*=\s*'([^']+)'")):
        p = root / rel
        if p.is_file() and (m := re.search(pat, p.read_text(encoding="utf-8"))):
            return m.group(1)
    return "unknown"


def build(root: Path, version: str | None = None, schema: str | None = None, scan: dict | None = None) -> dict:
    provenance = {}
    if (root / "SOURCES.json").is_file():
        provenance = json.loads((root / "SOURCES.json").read_text(encoding="utf-8"))
    schema_src, ops = load_schema(root, schema)
    got = {k: find(root, c) for k, c in (("resolver", RESOLVER), ("flex", FLEX), ("gpu", GPU), ("xnnpack", XNN),
                                         ("xnnpack custom ops", XNN_DELEGATE))}
    sources = [{"role": "builtin op list", "path": schema_src, "status": "parsed"}]
    for role, g in got.items():
        info = provenance.get("files", {}).get(g[0], {}) if g else {}
        sources.append({"role": role, "path": g[0] if g else None, **info,
                        "status": "parsed" if g else "not found: entries left unknown"})
    sources += [{**x, "status": "consulted, not used"} for x in provenance.get("consulted_not_used", [])]
    sources += [{**x, "status": "not parsed"} for x in provenance.get("not_found", [])]

    resolver, stock_custom = parse_resolver(got["resolver"][1]) if got["resolver"] else ({}, [])
    flex = parse_flex(got["flex"][1]) if got["flex"] else {"main": [], "tftext": [], "sentencepiece": []}
    gpu, gpu_custom = parse_gpu(got["gpu"][1], ops) if got["gpu"] else ({}, {})
    xnn = parse_xnnpack(got["xnnpack"][1]) if got["xnnpack"] else {}
    xnn_custom = parse_xnnpack_custom(got["xnnpack custom ops"][1]) if got["xnnpack custom ops"] else []
    unknown = {"status": "unknown", "constraints": "source not available"}

    builtins = {}
    for name, code in sorted(ops.items(), key=lambda kv: kv[1]):
        cpu = {"kernel": name in resolver, "versions": resolver.get(name)}
        if scan:
            cpu["runtime_versions"] = {rt: d["builtins"].get(name) for rt, d in scan.items()}
        x = xnn.get(name, {})
        if x.get("fp32"):
            xs = {"status": "yes", "constraints": "; ".join(map(clean_bullet, x["fp32"]))}
            if checks := xnn_checks(name, x["fp32"]):
                xs["checks"] = checks
        elif x.get("quantized"):
            xs = {"status": "partial", "constraints": "8-bit quantized only: " + "; ".join(map(clean_bullet, x["quantized"]))}
        else:
            xs = {"status": "no", "constraints": "not in the XNNPACK supported-operator list"} if got["xnnpack"] else unknown
        if x.get("quantized") and x.get("fp32"):
            xs["quantized"] = "; ".join(map(clean_bullet, x["quantized"]))
        gs = gpu.get(name) or ({"status": "no", "constraints": "not handled by the GPU delegate"} if got["gpu"] else unknown)
        builtins[name] = {"code": code, "cpu": cpu, "xnnpack": xs, "gpu": gs}
    builtins.get("CUSTOM", {})["note"] = "placeholder code of custom and Flex ops; see `custom` and `flex`"

    custom = {}
    scanned = {c for d in (scan or {}).values() for c in d["custom"]}
    for name in sorted(set(stock_custom) | set(gpu_custom) | scanned | set(xnn_custom)):
        entry = {"cpu": {"kernel": name in stock_custom},
                 "xnnpack": xnn_custom_entry(name) if name in xnn_custom else {"status": "no", "constraints": "custom op"},
                 "gpu": gpu_custom.get(name, {"status": "no", "constraints": "custom op not handled by the GPU delegate"})}
        if scan:
            entry["cpu"]["runtime_resolved"] = {rt: d["custom"].get(name) for rt, d in scan.items()}
        custom[name] = entry
    ver = tf_version(root, version or provenance.get("tensorflow_version"))
    return {
        "schema": SCHEMA_VERSION,
        "tensorflow_version": ver,
        "data_version": f"TF {ver} sources",
        "generated_by": "tools/regen_op_support.py",
        "sources": sources,
        "statements": {"flex": FLEX_STATEMENT, "gpu": GPU_STATEMENT, "xnnpack": XNN_STATEMENT},
        "runtimes_scanned": sorted(scan) if scan else [],
        "builtins": builtins,
        "custom": custom,
        "flex": {"statement": FLEX_STATEMENT, "allowlist": flex["main"],
                 "tftext_allowlist": flex["tftext"], "sentencepiece_allowlist": flex["sentencepiece"]},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tf-src", type=Path)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "opaudit/data/op_support.json")
    ap.add_argument("--tf-version")
    ap.add_argument("--schema")
    ap.add_argument("--scan-runtime", action="store_true")
    ap.add_argument("--_scan-child", dest="scan_child", help=argparse.SUPPRESS)
    ap.add_argument("--custom", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.scan_child:
        _scan_child(a.scan_child, a.custom)
        return 0
    if not a.tf_src:
        ap.error("--tf-src is required")
    stock = parse_resolver(find(a.tf_src, RESOLVER)[1])[1] if find(a.tf_src, RESOLVER) else []
    scan = scan_runtimes(stock + ["NonMaxSuppressionV3"]) if a.scan_runtime else None
    data = build(a.tf_src, a.tf_version, a.schema, scan)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {a.out}: {len(data['builtins'])} builtins, {len(data['custom'])} custom, "
          f"{len(data['flex']['allowlist'])} flex ops")
    return 0


if __name__ == "__main__":
    sys.exit(main())
