#!/usr/bin/env bash
# A CDK app of its own (examples/consumer) installs the packed tarball and synthesizes with every rule
# pack, compiled with plain tsc and run with plain node through the CDK CLI, once per aws-cdk-lib version
# (default: the lowest and the newest of the peer range). Everything is installed in a temp dir; the
# repository's node_modules is only used to build the tarball. Prints the synth time per version.
set -euo pipefail
case "${1:-}" in
  -h|--help) printf 'Usage: %s\n\n%s\n' "bash scripts/consumer.sh [aws-cdk-lib versions...]  (npm run consumer)" "Packs the library, checks the tarball's contents, installs it into a copy of examples/consumer in a temp dir and synthesizes it with every rule pack, once per aws-cdk-lib version (default: the lowest and newest of the peer range)."; exit 0 ;;
esac
cd "$(dirname "$0")/.."
root=$PWD
export CDK_DISABLE_CLI_TELEMETRY=true

if [ $# -gt 0 ]; then versions=("$@"); else
  range=$(node -p "require('./package.json').peerDependencies['aws-cdk-lib']")
  lowest=${range#^}
  newest=$(npm view "aws-cdk-lib@$range" version --json | node -e "const v=JSON.parse(require('fs').readFileSync(0,'utf8')); console.log([v].flat().pop())")
  versions=("$lowest" "$newest")
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/docai-consumer.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "::: npm pack (builds dist/ first)"
npm pack --silent --pack-destination "$work" >/dev/null
tgz=$(ls "$work"/docai-blueprint-*.tgz)
npx tsx scripts/pack-contents.ts "$tgz"
echo "tarball: $(du -k "$tgz" | cut -f1) kB, $(tar -tzf "$tgz" | grep -vc '/$') files"

for v in "${versions[@]}"; do
  app="$work/consumer-$v"
  mkdir -p "$app"
  (cd examples/consumer && git ls-files --cached --others --exclude-standard . | tar -cf - -T -) | tar -xf - -C "$app"
  cp "$tgz" "$app/docai-blueprint.tgz"
  node -e "const f='$app/package.json'; const p=require(f); p.dependencies['aws-cdk-lib']='$v'; require('fs').writeFileSync(f, JSON.stringify(p, null, 2))"
  echo "::: consumer with aws-cdk-lib $v: npm install"
  (cd "$app" && npm install --no-audit --no-fund --loglevel=error)
  installed=$(cd "$app" && node -p "require('aws-cdk-lib/package.json').version")
  copies=$(cd "$app" && find node_modules -name package.json -path '*/aws-cdk-lib/package.json' -not -path '*/aws-cdk-lib/*/*' | wc -l)
  [ "$installed" = "$v" ] || { echo "expected aws-cdk-lib $v, npm installed $installed" >&2; exit 1; }
  [ "$copies" = 1 ] || { echo "aws-cdk-lib is installed $copies times: the library must use the app's copy" >&2; exit 1; }
  echo "::: consumer with aws-cdk-lib $v: tsc, cdk synth (node bin/app.js)"
  (cd "$app" && npx tsc)
  # (a failing synth prints aws-cdk-lib's minified source line: keep the log readable)
  TIMEFORMAT="consumer synth with aws-cdk-lib $v: %R s wall, %U s user, %S s sys"
  time (cd "$app" && npx cdk synth --quiet --no-notices 2>&1 | cut -c1-400)
  # Every rule pack ran and passed: a consumer app that forgot them would otherwise pass too.
  (cd "$app" && node -e "
    const r = require('./cdk.out/validation-report.json').pluginReports;
    const want = ['AwsSolutions', 'HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321', 'Serverless', 'cdk-validator-cfnguard'];
    const got = r.map((p) => p.pluginName).sort();
    const bad = r.filter((p) => p.conclusion !== 'success' || p.violations.length);
    if (JSON.stringify(got) !== JSON.stringify(want.sort()) || bad.length) { console.error('rule packs: ran', got, 'failed', bad.map((p) => p.pluginName)); process.exit(1); }
    console.log('rule packs clean:', got.join(', '));
  ")
  rm -rf "$app"
done
