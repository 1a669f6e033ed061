"""Puts the shared package and every function folder on sys.path, as the Lambda layer and bundles do."""
import os
import sys

LAMBDA_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for name in sorted(os.listdir(LAMBDA_DIR)):
    path = os.path.join(LAMBDA_DIR, name)
    if os.path.isdir(path) and name not in ("tests", "__pycache__") and not name.startswith("."):
        sys.path.insert(0, path)

# Every AWS call the deployed code makes is recorded for the permission contract (test/permission-contract).
import call_recorder  # noqa: E402

_CALLS = os.path.join(call_recorder.default_path(), "pytest.jsonl")


def pytest_configure(config):
    if os.path.exists(_CALLS):
        os.remove(_CALLS)
    call_recorder.install(_CALLS, "pytest")
