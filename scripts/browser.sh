#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium for the HTML security-review check
# (test/review/security-review.test.ts drives it with playwright-core, which downloads no browser).
# Installs it with apt when missing and this user can; otherwise says what to run.
set -euo pipefail
case "${1:-}" in
  -h|--help) printf 'Usage: %s\n\n%s\n' "bash scripts/browser.sh" "Makes sure Debian's Chromium is at /usr/bin/chromium for the HTML security-review check (installs it with apt when it can)."; exit 0 ;;
esac
[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "docai-blueprint: installing Debian's chromium for the HTML review check (apt-get, once)" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } >/dev/null
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  { sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } >/dev/null
else
  echo "docai-blueprint: the HTML review check needs Chromium at /usr/bin/chromium: run 'sudo apt-get install chromium' (Debian/Ubuntu), then npm test again" >&2
  exit 1
fi
