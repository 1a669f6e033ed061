"""The custom metrics the handlers emit, read from their source (Python's own parser), as JSON.

Usage: python3 emitted_metrics.py <lambda dir>. Prints {"metrics": [{"file", "name", "dimensionSets"}],
"deploymentDimensionsEnv": <name or null>} where a name may hold '*' for a formatted part
(``f"Latency.{step}"``). How a metric gets its dimensions in docai_shared.observability:
- ``Metrics(workflow).add(name, ...)`` then ``.flush(**extra)``: Workflow plus the keyword names of a
  flush in the same module (every flush of the module is a possible set);
- ``emf_line(metrics, {...})``: the keys of the dimension dict literal, for the keys of the metrics
  dict built in the same function (assigned to the name passed), and in ``emit_provider_metrics`` for
  the ``extra`` dicts its callers pass too;
- and, in every case, the deployment's dimensions that emf_line merges from the environment variable
  named by ``METRIC_DIMENSIONS_ENV`` (reported so the caller can read the functions' values).
"""
from __future__ import annotations

import ast
import json
import pathlib
import re
import sys


def _name_of(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "*" for v in node.values)
    return None


def _contract_name(root: pathlib.Path, node: ast.AST) -> str | None:
    """A name taken from the contract (``contract.METRIC_DIMENSIONS_ENV``): its value in the generated copy."""
    if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "contract"):
        return None
    doc = json.loads((root / "shared" / "docai_shared" / "contract.json").read_text())
    key = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), node.attr.lower())
    return doc.get(key)


def _names(node: ast.AST) -> list[str]:
    """Metric names an ``add`` argument can take: a literal, an f-string, or ``{..}.get(x, default)``."""
    one = _name_of(node)
    if one is not None:
        return [one]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" and isinstance(node.func.value, ast.Dict):
        out = [n for v in node.func.value.values for n in ([_name_of(v)] if _name_of(v) else [])]
        if len(node.args) > 1 and _name_of(node.args[1]):
            out.append(_name_of(node.args[1]))
        return out
    return []


def _dict_keys(node: ast.AST) -> list[str]:
    return [k.value for d in ast.walk(node) if isinstance(d, ast.Dict) for k in d.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]


def _is_metrics_receiver(node: ast.AST) -> bool:
    target = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
    return "metrics" in target.lower()


def scan(root: pathlib.Path) -> dict:
    metrics: list[dict] = []
    env_name = None
    provider_sets: list[list[str]] = []
    provider_names: list[str] = []
    extra_names: list[str] = []
    all_flush_sets: list[list[str]] = []
    own_sets: list[tuple[str, str, list[str]]] = []
    per_file: list[tuple[str, list[str], list[list[str]]]] = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("tests/") or "/." in "/" + rel:
            continue
        tree = ast.parse(path.read_text(), filename=rel)
        adds: list[str] = []
        flush_sets: list[list[str]] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "METRIC_DIMENSIONS_ENV" for t in node.targets):
                env_name = _name_of(node.value) or _contract_name(root, node.value)
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            if isinstance(f, ast.Attribute) and f.attr == "add" and _is_metrics_receiver(f.value) and node.args:
                adds.extend(_names(node.args[0]))
            elif isinstance(f, ast.Attribute) and f.attr == "flush" and _is_metrics_receiver(f.value):
                flush_sets.append(["Workflow", *[k.arg for k in node.keywords if k.arg]])
        # emf_line with a literal dimension dict: the metrics dict of the same function.
        for fn in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
            for call in [n for n in ast.walk(fn) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]:
                # (a dict with a ** spread is Metrics.flush's own call, covered by the flush sets)
                if call.func.id == "emf_line" and len(call.args) > 1 and isinstance(call.args[1], ast.Dict) and None not in call.args[1].keys:
                    metrics_arg = call.args[0]
                    names = [k for a in ast.walk(fn) if isinstance(a, ast.Assign) and isinstance(metrics_arg, ast.Name)
                             and any(isinstance(t, ast.Name) and t.id == metrics_arg.id for t in a.targets) for k in _dict_keys(a.value)]
                    if fn.name == "emit_provider_metrics":  # its callers' extra metrics get its dimensions too
                        provider_sets.append(_dict_keys(call.args[1]))
                        provider_names.extend(names)
                    else:  # any other emf_line: exactly its own dimensions
                        own_sets.extend((rel, n, _dict_keys(call.args[1])) for n in names)
                if call.func.id == "emit_provider_metrics" or (isinstance(call.func, ast.Attribute) and call.func.attr == "emit_provider_metrics"):
                    extra = call.args[5] if len(call.args) > 5 else next((k.value for k in call.keywords if k.arg == "extra"), None)
                    if isinstance(extra, ast.Name):
                        for a in ast.walk(fn):
                            if isinstance(a, ast.Assign) and any(isinstance(t, ast.Name) and t.id == extra.id for t in a.targets):
                                extra_names.extend(_dict_keys(a.value))
                    elif extra is not None:
                        extra_names.extend(_dict_keys(extra))
        all_flush_sets.extend(flush_sets)
        if adds:
            per_file.append((rel, adds, flush_sets))
    for rel, adds, flush_sets in per_file:
        sets = flush_sets or all_flush_sets  # added to a Metrics object another module flushes
        for name in dict.fromkeys(adds):
            metrics.append({"file": rel, "name": name, "dimensionSets": [sorted(set(s)) for s in sets]})
    for name in dict.fromkeys(provider_names + extra_names):
        metrics.append({"file": "emf_line", "name": name, "dimensionSets": [sorted(set(s)) for s in provider_sets]})
    for rel, name, keys in own_sets:
        metrics.append({"file": rel, "name": name, "dimensionSets": [sorted(set(keys))]})
    return {"metrics": metrics, "deploymentDimensionsEnv": env_name}


if __name__ == "__main__":
    json.dump(scan(pathlib.Path(sys.argv[1])), sys.stdout, indent=1)
