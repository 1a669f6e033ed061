#!/usr/bin/env bash
# Compiles the construct entry point with jsii and prints its diagnostics; exits non-zero on any error.
# jsii insists on a package.json with a `jsii` section and writes its own tsconfig.json into the
# project root, so it runs in a scratch project (build/jsii/) holding a copy of lib/ and a generated
# package.json: the repository's tsconfig and package.json are never touched.
#   bash scripts/jsii-check.sh            # entry point lib/index.ts
#   JSII_ENTRY=lib/constructs.ts bash scripts/jsii-check.sh
set -euo pipefail
case "${1:-}" in
  -h|--help)
    echo "Usage: bash scripts/jsii-check.sh (npm run jsii:check); JSII_ENTRY=lib/<file>.ts for another entry point"
    echo
    echo "Compiles the construct entry point with jsii in build/jsii/, prints jsii's diagnostics and the errors per file; exit 1 on any error."
    exit 0;;
  "") ;;
  *) echo "jsii-check: unknown argument $1 (--help lists the usage)" >&2; exit 2;;
esac
cd "$(dirname "$0")/.."
root=$PWD
entry=${JSII_ENTRY:-lib/index.ts}
scratch=$root/build/jsii
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=1

[ -f "$entry" ] || { echo "jsii-check: entry point $entry not found (set JSII_ENTRY)" >&2; exit 2; }
case "$entry" in lib/*.ts) ;; *) echo "jsii-check: JSII_ENTRY must be a .ts file under lib/, got $entry" >&2; exit 2;; esac

mkdir -p "$scratch"
# A fresh copy every run (the sources are small); jsii's incremental build info and output in dist/
# survive, so an unchanged tree recompiles faster.
rm -rf "$scratch/lib"
cp -r lib "$scratch/lib"
find "$scratch/lib" \( -name '*.js' -o -name '*.d.ts' \) -delete
ln -sfn "$root/node_modules" "$scratch/node_modules"
cp README.md "$scratch/README.md"

# package.json for jsii: peers and dependencies follow the repository's; a dependency without a .jsii
# assembly is declared bundled (jsii's rule for non-jsii runtime dependencies).
ENTRY="$entry" SCRATCH="$scratch" node - <<'EOF'
const fs = require('fs');
const path = require('path');
const pkg = require(path.resolve('package.json'));
const entry = process.env.ENTRY;
const peers = {};
const dependencies = {};
const bundled = [];
const isJsii = (name) => fs.existsSync(path.join('node_modules', name, '.jsii'));
for (const name of ['aws-cdk-lib', 'constructs']) {
  const range = pkg.peerDependencies?.[name] ?? `^${(pkg.dependencies?.[name] ?? pkg.devDependencies?.[name]).replace(/^[\^~]/, '')}`;
  peers[name] = range;
}
for (const [name, version] of Object.entries(pkg.dependencies ?? {})) {
  if (name in peers) continue;
  dependencies[name] = version;
  if (!isJsii(name)) bundled.push(name);
}
const devDependencies = {};
for (const name of Object.keys(peers)) {
  devDependencies[name] = require(path.resolve('node_modules', name, 'package.json')).version;
}
const out = {
  name: pkg.name,
  version: pkg.version,
  description: pkg.description,
  license: pkg.license,
  author: pkg.author ?? { name: 'docai-blueprint maintainers', organization: true },
  repository: pkg.repository ?? { type: 'git', url: 'https://example.invalid/docai-blueprint.git' },
  main: entry.replace(/\.ts$/, '.js').replace(/^/, 'dist/'),
  types: entry.replace(/\.ts$/, '.d.ts').replace(/^/, 'dist/'),
  peerDependencies: peers,
  devDependencies,
  dependencies,
  bundledDependencies: bundled,
  jsii: {
    outdir: 'dist-jsii',
    targets: {},
    tsc: { outDir: 'dist', rootDir: '.' },
  },
};
fs.writeFileSync(path.join(process.env.SCRATCH, 'package.json'), JSON.stringify(out, undefined, 2) + '\n');
EOF

cd "$scratch"
log=$scratch/jsii-output.txt
set +e
# --no-fix-peer-dependencies: report a missing peer (a jsii type exposed in the API) instead of
# silently rewriting the scratch package.json, so every run reports the same thing.
"$root/node_modules/.bin/jsii" --no-fix-peer-dependencies >"$log" 2>&1
rc=$?
set -e
# Drop the Node end-of-life banner; paths relative to the repository.
grep -v '^!!' "$log" | sed "s#$scratch/##g"
if [ "$rc" -ne 0 ]; then
  echo "jsii-check: jsii rejected the API of $entry (exit $rc). Errors per file:" >&2
  grep -oE '^[^ ]+\.ts:[0-9]+:[0-9]+ - error' "$log" | sed "s#$scratch/##g" | cut -d: -f1 | sort | uniq -c | sort -rn >&2
  exit "$rc"
fi
echo "jsii-check: $entry compiles with jsii"
