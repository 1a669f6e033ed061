#!/usr/bin/env bash
# Lint gates (npm run lint; npm test runs them first): eslint with typescript-eslint on the TypeScript
# (eslint.config.mjs), ruff on the Python (ruff.toml), mypy on the Lambda packages (mypy.ini), and the
# Python copy of the contract must be current (npm run contract). Each reports everything it finds;
# the script fails when any of them found something. Caches live in build/ (a second run takes seconds).
set -uo pipefail
case "${1:-}" in
  -h|--help) printf 'Usage: %s\n\n%s\n' "bash scripts/lint.sh  (npm run lint)" "Runs eslint (TypeScript), ruff and mypy (Python) and checks that lambda/shared/docai_shared/contract.json is current; exits 1 when any finds a problem."; exit 0 ;;
esac
cd "$(dirname "$0")/.."
mkdir -p build
failed=()
run() { local name=$1; shift; echo "::: $name"; "$@" || failed+=("$name"); }

run eslint npx eslint --cache --cache-location build/eslint-cache --max-warnings 0 .
run ruff .venv/bin/ruff check --cache-dir build/ruff-cache --output-format concise .
run mypy .venv/bin/mypy --cache-dir build/mypy-cache lambda/shared/docai_shared lambda/pipeline/*.py lambda/query/*.py lambda/ingestion/*.py lambda/migrations/*.py lambda/vector_metrics/*.py
run contract npx tsx scripts/contract.ts --check

if ((${#failed[@]})); then
  echo "lint failed: ${failed[*]} (fix the findings above; the contract copy: npm run contract)" >&2
  exit 1
fi
echo "lint clean"
