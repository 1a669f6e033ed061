"""The environment variable names the Lambda code reads, by Python's own parser: prints {name: [module, ...]}.

A read is a constant key of os.environ[...], os.environ.get(...), os.getenv(...), of a name bound to
os.environ (``env = os.environ if env is None else env``) or of a helper whose parameter is such a key
(``def need(name): return env[name]``, ``def connect_from_env(user_env="DB_USER")``).
Usage: environment_reads.py LAMBDA_DIR (tests/ are skipped: they set what they test).
"""
from __future__ import annotations

import ast
import json
import pathlib
import sys


def _is_environ(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ" and isinstance(node.value, ast.Name) and node.value.id == "os"


def _reads(tree: ast.AST) -> set[str]:
    aliases = {"os.environ"}
    for node in ast.walk(tree):
        value = getattr(node, "value", None) if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        branches = [value.body, value.orelse] if isinstance(value, ast.IfExp) else value.values if isinstance(value, ast.BoolOp) else [value]
        if value is not None and any(_is_environ(b) for b in branches):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            aliases |= {t.id for t in targets if isinstance(t, ast.Name)}

    def is_env(node: ast.AST) -> bool:
        return _is_environ(node) or (isinstance(node, ast.Name) and node.id in aliases)

    def key_of(node: ast.AST) -> ast.AST | None:
        if isinstance(node, ast.Subscript) and is_env(node.value):
            return node.slice
        if isinstance(node, ast.Call) and node.args:
            f = node.func
            if isinstance(f, ast.Attribute) and ((f.attr == "get" and is_env(f.value)) or (f.attr == "getenv" and isinstance(f.value, ast.Name) and f.value.id == "os")):
                return node.args[0]
        return None

    names: set[str] = set()
    helpers: set[str] = set()
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        params = fn.args.args
        defaults = dict(zip([p.arg for p in params[len(params) - len(fn.args.defaults):]], fn.args.defaults, strict=True))
        for node in ast.walk(fn):
            key = key_of(node)
            if isinstance(key, ast.Name) and params and key.id == params[0].arg:
                helpers.add(fn.name)
            if isinstance(key, ast.Name) and isinstance(defaults.get(key.id), ast.Constant):
                names.add(defaults[key.id].value)
    for node in ast.walk(tree):
        key = key_of(node)
        if key is None and isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in helpers and node.args:
            key = node.args[0]
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            names.add(key.value)
    return names


def main(root: pathlib.Path) -> None:
    found: dict[str, set[str]] = {}
    for p in sorted(root.rglob("*.py")):
        rel = p.relative_to(root).as_posix()
        if rel.startswith("tests/") or "/tests/" in rel:
            continue
        for name in _reads(ast.parse(p.read_text(encoding="utf-8"), filename=rel)):
            found.setdefault(name, set()).add(p.stem)
    print(json.dumps({k: sorted(v) for k, v in sorted(found.items())}))


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
