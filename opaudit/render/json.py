"""JSON rendering of a `ModelReport` (schema documented in docs/json-schema.md)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from opaudit.findings import ModelReport, to_jsonable


def report_json(report: ModelReport) -> dict[str, Any]:
    """The stable JSON object for one model (`schema_version` 1).

    Top-level keys: schema_version, path, size, sha256, version, description, subgraphs,
    operators [{subgraph, index, op, kind, version, inputs, outputs, tf_op, node_name, layer,
    layer_source, tf_name}], tensors, signatures, metadata, min_runtime_version,
    support {op: {target: {status, reason}}}, findings, probe, target, tool, runtime_probes,
    delegation, verdicts, verdict_sources, counts.
    """
    return report.to_dict()


def dumps(reports: Sequence[ModelReport | dict], errors: Sequence[dict] = ()) -> str:
    """One model: its object. Several (or any failed to parse): `{"models": [...]}`.

    `errors` are `{"path", "error", "exit_code"}` entries for files that could not be read.
    """
    items: list[Any] = [to_jsonable(r) if isinstance(r, ModelReport) else r for r in reports]
    items += list(errors)
    if len(items) == 1 and not errors:
        return json.dumps(items[0], indent=2, ensure_ascii=False)
    return json.dumps({"schema_version": 1, "models": items}, indent=2, ensure_ascii=False)
