#!/usr/bin/env bash
# cfn-lint, AWS's CloudFormation template linter, on every template of the given cloud assemblies
# (default: cdk.out and cdk.out.production). Fails on any error. Version pinned: a newer cfn-lint has
# newer schemas and rules, so upgrading is a deliberate change (and CFN_LINT_SCHEMA_LAG in
# lib/app/cfn-lint.ts may shrink, and lib/config/region-availability.json is regenerated).
set -euo pipefail
cd "$(dirname "$0")/.."
usage() {
  cat <<'EOF'
Usage: npm run lint:cfn -- [--regions REGION ...] [--] [DIR ...]

Runs cfn-lint (pinned 1.51.0) on every template of the cloud assemblies DIR (default: cdk.out
cdk.out.production); exits 1 on any finding but W3005.

  --regions REGION ...  check resource types and properties in these regions (cfn-lint --regions),
                        e.g. the stage's supported regions; stacks pinned to a region (the cost stack,
                        us-east-1) are checked in their own region
  -h, --help            this text
EOF
}
regions=()
dirs=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --regions) shift; while [ $# -gt 0 ] && [[ "$1" != -* ]] && [ ! -d "$1" ]; do regions+=("$1"); shift; done ;;
    --) shift; dirs+=("$@"); break ;;
    -*) echo "npm run lint:cfn: unknown flag $1 (npm run lint:cfn -- --help lists the flags)" >&2; exit 2 ;;
    *) dirs+=("$1"); shift ;;
  esac
done
PINNED=1.51.0
have=$(cfn-lint --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$PINNED" ]; then
  echo "cfn-lint $PINNED is required, found: ${have:-none}. Install it with: pip install cfn-lint==$PINNED (this project's machine image ships it)." >&2
  exit 1
fi
[ ${#dirs[@]} -gt 0 ] || dirs=(cdk.out cdk.out.production)
for d in "${dirs[@]}"; do
  [ -d "$d" ] || { echo "cfn-lint: no cloud assembly at $d (synthesize first: npx cdk synth -c stage=... -o $d)" >&2; exit 1; }
done
# W3005 (a DependsOn that a Ref/GetAtt already implies) is how CDK orders a function after its role's
# policy; it is redundant, never wrong. Everything else counts.
if [ ${#regions[@]} -eq 0 ]; then
  templates=()
  for d in "${dirs[@]}"; do templates+=("$d"/*.template.json); done
  exec cfn-lint --ignore-checks W3005 -- "${templates[@]}"
fi
# Per stack: the given regions, or the region the manifest pins the stack to.
status=0
while IFS=$'\t' read -r template pinned; do
  if [ -n "$pinned" ]; then r=("$pinned"); else r=("${regions[@]}"); fi
  cfn-lint --ignore-checks W3005 --regions "${r[@]}" -- "$template" || status=1
done < <(python3 - "${dirs[@]}" <<'EOF'
import json, os, sys
for d in sys.argv[1:]:
    for a in json.load(open(os.path.join(d, "manifest.json")))["artifacts"].values():
        if a.get("type") == "aws:cloudformation:stack":
            region = a.get("environment", "").rsplit("/", 1)[-1]
            print(f"{os.path.join(d, a['properties']['templateFile'])}\t{'' if region.startswith('unknown') else region}")
EOF
)
exit $status
