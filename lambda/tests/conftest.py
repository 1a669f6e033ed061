"""Puts the shared package and every function folder on sys.path, as the Lambda layer and bundles do."""
import os
import sys

LAMBDA_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for name in sorted(os.listdir(LAMBDA_DIR)):
    path = os.path.join(LAMBDA_DIR, name)
    if os.path.isdir(path) and name not in ("tests", "__pycache__") and not name.startswith("."):
        sys.path.insert(0, path)
