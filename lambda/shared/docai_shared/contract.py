"""What the Python side shares with the CDK code: access tiers, limits, metric and environment names.

The source of truth is lib/contract (TypeScript); ``npm run contract`` writes ``contract.json`` next to
this module, and test/contract fails when that copy is stale. Read once at import: the file ships in
the layer with the code.
"""
from __future__ import annotations

import json
import pathlib
import re
from typing import Any

_DOC: dict[str, Any] = json.loads((pathlib.Path(__file__).parent / "contract.json").read_text(encoding="utf-8"))


def _snake(name: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), name)


ACCESS_TIERS: tuple[str, ...] = tuple(_DOC["accessTiers"])
DEFAULT_ACCESS_TIER: str = _DOC["defaultAccessTier"]
# snake_case limit name (max_pdf_pages) -> default, and -> the environment variable that overrides it
EXTRACT_LIMITS: dict[str, int] = {_snake(k): int(v) for k, v in _DOC["extractLimits"].items()}
EXTRACT_LIMIT_ENV: dict[str, str] = {_snake(k): v for k, v in _DOC["extractLimitEnv"].items()}
MAX_QUESTION_CHARS: int = int(_DOC["queryLimits"]["maxQuestionChars"])
METRICS_NAMESPACE: str = _DOC["metricsNamespace"]
METRIC_DIMENSIONS_ENV: str = _DOC["metricDimensionsEnv"]
# Every environment variable name a construct sets on some function (handler -> names in contract.json)
# or the code may read without one (the runtime's, local tests'); test/contract checks the code's reads.
ENVIRONMENT_NAMES: frozenset[str] = frozenset(_DOC["functionEnvironment"]) | frozenset(_DOC["localEnvironment"])
# The custom metric names (``Latency.*``: any ``Latency.<step>``); docai_shared.observability emits no other.
CUSTOM_METRICS: frozenset[str] = frozenset(_DOC["customMetrics"])
# The query API's workflows: the values of VectorSearches' Workflow dimension.
SEARCH_WORKFLOWS: tuple[str, ...] = tuple(_DOC["searchWorkflows"])


def is_custom_metric(name: str) -> bool:
    return name in CUSTOM_METRICS or any(m.endswith(".*") and name.startswith(m[:-1]) and len(name) > len(m) - 1 for m in CUSTOM_METRICS)
