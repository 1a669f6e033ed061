#!/usr/bin/env bash
# Runs every test: jest (CDK constructs, rule packs, local state machine runs) then pytest (Lambda code
# against moto and a real PostgreSQL + pgvector in PGlite). Creates the Python virtualenv when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Template.fromStack / app.synth leave a cdk.out per synth in $TMPDIR: keep them in one folder we clean.
export TMPDIR="$PWD/.jest-tmp"
rm -rf "$TMPDIR" && mkdir -p "$TMPDIR"

bash scripts/venv.sh
# two workers: this machine (and CI) has two cores
npx jest --maxWorkers=2 "$@"
bash scripts/pytest.sh
rm -rf "$TMPDIR"
