#!/usr/bin/env bash
# Runs the lint gates (scripts/lint.sh), then every test: pytest (Lambda code against moto and a real PostgreSQL + pgvector in PGlite), then
# jest (CDK constructs, rule packs, local state machine runs, and the permission contract, which
# evaluates the AWS calls pytest recorded against the synthesized policies), then cfn-lint on both
# stages. Creates the Python virtualenv when missing, and installs Debian's chromium when missing.
set -euo pipefail
case "${1:-}" in
  -h|--help) printf 'Usage: %s\n\n%s\n' "bash scripts/test.sh [jest args]  (npm test)" "Runs the lint gates (eslint, ruff, mypy), then every test: pytest (records the AWS calls), jest (the permission contract evaluates them), with the virtualenv and Chromium set up first. Arguments go to jest."; exit 0 ;;
esac
cd "$(dirname "$0")/.."

# Template.fromStack / app.synth leave a cdk.out per synth in $TMPDIR: keep them in one folder we clean.
export TMPDIR="$PWD/.jest-tmp"
rm -rf "$TMPDIR" && mkdir -p "$TMPDIR"

bash scripts/venv.sh
# Lint gates first: a finding fails in seconds instead of after the suite.
bash scripts/lint.sh
bash scripts/browser.sh
# pytest first: it records the AWS calls of the Python code (lambda/tests/call_recorder.py) that the
# permission contract (test/permission-contract) evaluates.
export DOCAI_CALL_LOG_DIR="$PWD/build/recorded-calls"
rm -rf "$DOCAI_CALL_LOG_DIR"
bash scripts/pytest.sh
# two workers: this machine (and CI) has two cores
npx jest --maxWorkers=2 "$@"
rm -rf "$TMPDIR"
