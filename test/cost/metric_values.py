"""The dimension values the handlers give their custom metrics, read from the source (Python's parser), as JSON.

Usage: python3 metric_values.py <lambda dir>. Prints {"steps": [...], "latencySteps": [...],
"pipelineWorkflows": [...], "queryWorkflows": [...]}:
- steps: the first argument of every ``_timed("<Step>", ...)`` and every ``flush(Step="<Step>")`` of
  the pipeline handlers (the Step dimension);
- latencySteps: the step names of query_service's ``_timed(latency, "<step>", ...)`` and of its
  ``latency["<step>"] = ...`` assignments (the ``Latency.<step>`` metrics);
- pipelineWorkflows: the ``WORKFLOWS`` tuple of the pipeline handlers (the Workflow dimension);
- queryWorkflows: the string constants of the conditional expression that sets ``workflow`` in
  query_service's handle() (POST /query and POST /search).
"""
from __future__ import annotations

import ast
import json
import pathlib
import sys


def _str(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def scan(root: pathlib.Path) -> dict:
    pipeline = ast.parse((root / "pipeline" / "pipeline_handlers.py").read_text())
    query = ast.parse((root / "query" / "query_service.py").read_text())
    steps: set[str] = set()
    workflows: list[str] = []
    for node in ast.walk(pipeline):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id == "_timed" and node.args and _str(node.args[0]):
                steps.add(_str(node.args[0]))  # type: ignore[arg-type]
            if isinstance(f, ast.Attribute) and f.attr == "flush":
                steps.update(_str(k.value) for k in node.keywords if k.arg == "Step" and _str(k.value))  # type: ignore[misc]
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "WORKFLOWS" for t in node.targets) and isinstance(node.value, ast.Tuple):
            workflows = [_str(e) for e in node.value.elts if _str(e)]  # type: ignore[misc]
    latency: set[str] = set()
    query_workflows: list[str] = []
    for node in ast.walk(query):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_timed" and len(node.args) > 1 and _str(node.args[1]):
            latency.add(_str(node.args[1]))  # type: ignore[arg-type]
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            t = node.targets[0]
            if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id == "latency" and _str(t.slice):
                latency.add(_str(t.slice))  # type: ignore[arg-type]
            if isinstance(t, ast.Name) and t.id == "workflow" and isinstance(node.value, ast.IfExp):
                query_workflows = [v for v in (_str(node.value.body), _str(node.value.orelse)) if v]
    return {"steps": sorted(steps), "latencySteps": sorted(latency), "pipelineWorkflows": workflows, "queryWorkflows": query_workflows}


if __name__ == "__main__":
    json.dump(scan(pathlib.Path(sys.argv[1])), sys.stdout)
