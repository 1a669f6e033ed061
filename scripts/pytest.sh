#!/usr/bin/env bash
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh
cd lambda
exec ../.venv/bin/python -m pytest -q -p no:cacheprovider "${@:-tests}"
