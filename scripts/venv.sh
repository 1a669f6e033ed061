#!/usr/bin/env bash
# Creates .venv (keeping the machine's boto3/moto/pytest through --system-site-packages) and installs
# the dev requirements. Re-runs pip only when the requirement files changed.
set -euo pipefail
case "${1:-}" in
  -h|--help) printf 'Usage: %s\n\n%s\n' "bash scripts/venv.sh" "Creates .venv (with the machine's boto3/moto/pytest) and installs the dev requirements when they changed."; exit 0 ;;
esac
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv --system-site-packages .venv
fi
stamp=.venv/.requirements.sha
want=$(cat lambda/requirements-dev.txt lambda/*/requirements.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  args=()
  # This workplace has no PyPI, only a local index: use it as the index so pip does not wait on retries.
  if [ -z "${PIP_INDEX_URL:-}" ] && [ -d /opt/pypi/simple ]; then
    args+=(--index-url file:///opt/pypi/simple)
    [ -d /opt/pypi-more/simple ] && args+=(--extra-index-url file:///opt/pypi-more/simple)
  fi
  .venv/bin/pip install --quiet --disable-pip-version-check "${args[@]}" -r lambda/requirements-dev.txt 2>&1 \
    | { grep -v "it is neither a file nor a directory" || true; }
  echo "$want" > "$stamp"
fi
