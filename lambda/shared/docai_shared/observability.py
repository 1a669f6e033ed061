"""Structured logging and CloudWatch Embedded Metric Format (EMF), without a dependency.

Logs are one JSON object per line with a correlation id (document key + version), so CloudWatch Logs
Insights can follow one document through every step. Metrics are EMF lines: CloudWatch turns them into
metrics with no API call and no extra latency.
"""
from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Callable, Mapping, TextIO

from docai_shared import contract

NAMESPACE = contract.METRICS_NAMESPACE


def correlation_id(bucket: str, key: str, version_id: str | None) -> str:
    return f"s3://{bucket}/{key}#{version_id or 'null'}"


class Logger:
    """Writes one JSON line per call to ``stream`` (stdout: Lambda ships it to CloudWatch Logs)."""

    def __init__(self, service: str, stream: TextIO | None = None, clock: Callable[[], float] = time.time):
        self.service = service
        self.stream = stream
        self.clock = clock
        self.context: dict[str, Any] = {}

    def bind(self, **fields: Any) -> "Logger":
        child = Logger(self.service, self.stream, self.clock)
        child.context = {**self.context, **fields}
        return child

    def _emit(self, level: str, message: str, fields: Mapping[str, Any]) -> None:
        record = {"timestamp": round(self.clock(), 3), "level": level, "service": self.service, "message": message, **self.context, **fields}
        out = self.stream or sys.stdout
        out.write(json.dumps(record, default=str) + "\n")

    def info(self, message: str, **fields: Any) -> None:
        self._emit("INFO", message, fields)

    def warning(self, message: str, **fields: Any) -> None:
        self._emit("WARNING", message, fields)

    def error(self, message: str, **fields: Any) -> None:
        self._emit("ERROR", message, fields)


# Dimensions every metric of this function carries (project, stage), set by the CDK construct
# (lib/common/python-function.ts) as a JSON object, so stages and projects sharing an account never
# sum into one metric. Read per call: tests and the load server set it per run.
METRIC_DIMENSIONS_ENV = contract.METRIC_DIMENSIONS_ENV


def deployment_dimensions() -> dict[str, str]:
    raw = os.environ.get(METRIC_DIMENSIONS_ENV, "")
    if not raw:
        return {}
    value = json.loads(raw)
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError(f"{METRIC_DIMENSIONS_ENV} must be a JSON object of strings, received {raw!r}")
    return value


def emf_line(
    metrics: Mapping[str, tuple[float, str]],
    dimensions: Mapping[str, str],
    properties: Mapping[str, Any] | None = None,
    namespace: str = NAMESPACE,
    timestamp_ms: int | None = None,
) -> str:
    """One EMF document: ``metrics`` maps name -> (value, unit); every metric gets ``dimensions``
    and the deployment's dimensions (``DOCAI_METRIC_DIMENSIONS``)."""
    unknown = sorted(n for n in metrics if not contract.is_custom_metric(n))
    if unknown:
        raise ValueError(f"metric {unknown[0]!r} is not in the contract: add it to CUSTOM_METRICS in lib/contract/metrics.ts and run npm run contract")
    dimensions = {**dimensions, **deployment_dimensions()}
    doc: dict[str, Any] = {
        "_aws": {
            "Timestamp": timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [list(dimensions.keys())],
                    "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in metrics.items()],
                }
            ],
        },
        **dimensions,
        **{name: value for name, (value, _) in metrics.items()},
        **(properties or {}),
    }
    return json.dumps(doc, default=str)


class Metrics:
    """Collects metrics for one invocation and flushes them as one EMF line."""

    def __init__(self, workflow: str, stream: TextIO | None = None, namespace: str = NAMESPACE):
        self.workflow = workflow
        self.stream = stream
        self.namespace = namespace
        self.values: dict[str, tuple[float, str]] = {}
        self.properties: dict[str, Any] = {}

    def add(self, name: str, value: float, unit: str = "Count") -> None:
        # refused where it is added (the traceback names the caller), not at flush
        if not contract.is_custom_metric(name):
            raise ValueError(f"metric {name!r} is not in the contract: add it to CUSTOM_METRICS in lib/contract/metrics.ts and run npm run contract")
        prev = self.values.get(name, (0.0, unit))[0]
        self.values[name] = (prev + value, unit)

    def flush(self, **extra_dimensions: str) -> str | None:
        if not self.values:
            return None
        line = emf_line(self.values, {"Workflow": self.workflow, **extra_dimensions}, self.properties, self.namespace)
        (self.stream or sys.stdout).write(line + "\n")
        self.values = {}
        return line
