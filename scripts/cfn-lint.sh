#!/usr/bin/env bash
# cfn-lint, AWS's CloudFormation template linter, on every template of the given cloud assemblies
# (default: cdk.out and cdk.out.production). Fails on any error. Version pinned: a newer cfn-lint has
# newer schemas and rules, so upgrading is a deliberate change (and CFN_LINT_SCHEMA_LAG in
# lib/app/cfn-lint.ts may shrink).
#   npm run lint:cfn [-- DIR ...]
set -euo pipefail
cd "$(dirname "$0")/.."
PINNED=1.51.0
have=$(cfn-lint --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$PINNED" ]; then
  echo "cfn-lint $PINNED is required, found: ${have:-none}. Install it with: pip install cfn-lint==$PINNED (this project's machine image ships it)." >&2
  exit 1
fi
dirs=("$@")
[ ${#dirs[@]} -gt 0 ] || dirs=(cdk.out cdk.out.production)
templates=()
for d in "${dirs[@]}"; do
  [ -d "$d" ] || { echo "cfn-lint: no cloud assembly at $d (synthesize first: npx cdk synth -c stage=... -o $d)" >&2; exit 1; }
  templates+=("$d"/*.template.json)
done
# W3005 (a DependsOn that a Ref/GetAtt already implies) is how CDK orders a function after its role's
# policy; it is redundant, never wrong. Everything else counts.
exec cfn-lint --ignore-checks W3005 -- "${templates[@]}"
