"""Writes lib/config/region-availability.json: in which regions CloudFormation offers each resource
type the stages synthesize, and in which regions RDS offers each PostgreSQL instance class the
instance catalogue lists, read from the per-region CloudFormation schemas cfn-lint bundles
(cfnlint/data/schemas/providers/<region>.py; RDS classes: extensions/aws_rds_dbinstance/dbinstanceclass_enum.json,
also db.serverless of engine aurora-postgresql: where Aurora Serverless v2 runs).
Config validation (lib/config/regions.ts) reads the table, so an unsupported region fails in
milliseconds instead of 45 s into a synth; test/config/regions.test.ts checks that the table covers
every type the synthesized templates hold and that it matches the installed cfn-lint.

    python3 scripts/region_availability.py [--check] cdk.out cdk.out.production

--check: exit 1 (naming the difference) when the checked-in table differs from what it would write.
"""
from __future__ import annotations

import glob
import importlib
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_args import StrictParser  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TABLE = os.path.join(ROOT, "lib", "config", "region-availability.json")
# The aws partition only (images.ts: China, GovCloud, ISO and the European Sovereign Cloud are other partitions).
COMMERCIAL = re.compile(r"^(us|eu|ap|ca|sa|me|af|il|mx)-[a-z]+-\d$")


# The SAM transform expands AWS::Serverless::Application into a nested stack; the Serverless
# Application Repository's own regions are not in the bundled schemas and are not checked here.
SAM_EXPANDS_TO = {"AWS::Serverless::Application": "AWS::CloudFormation::Stack"}


def template_types(dirs: list[str]) -> tuple[list[str], list[str]]:
    """(types of the stacks deployed to the stage's region, types of stacks pinned to a region, e.g. the cost stack in us-east-1)."""
    stage: set[str] = set()
    pinned: set[str] = set()
    for d in dirs:
        manifest = json.load(open(os.path.join(d, "manifest.json"), encoding="utf-8"))
        for art in manifest["artifacts"].values():
            if art.get("type") != "aws:cloudformation:stack":
                continue
            into = stage if "unknown-region" in art.get("environment", "unknown-region") else pinned
            template = json.load(open(os.path.join(d, art["properties"]["templateFile"]), encoding="utf-8"))
            for r in template.get("Resources", {}).values():
                # Custom resources are Lambda-backed: their availability is the function's.
                if not r["Type"].startswith("Custom::") and r["Type"] != "AWS::CDK::Metadata":
                    into.add(SAM_EXPANDS_TO.get(r["Type"], r["Type"]))
    return sorted(stage), sorted(pinned)


def rds_classes() -> list[str]:
    text = open(os.path.join(ROOT, "lib", "config", "instance-catalog.ts"), encoding="utf-8").read()
    return sorted(set(re.findall(r"'(db\.[a-z0-9]+\.[a-z0-9]+)'", text)))


def build(dirs: list[str]) -> dict:
    import cfnlint
    from cfnlint.version import __version__

    base = os.path.join(os.path.dirname(cfnlint.__file__), "data", "schemas")
    regions = sorted(
        os.path.basename(f)[:-3].replace("_", "-")
        for f in glob.glob(os.path.join(base, "providers", "*.py"))
        if not f.endswith("__init__.py")
    )
    regions = [r for r in regions if COMMERCIAL.match(r)]
    provided = {r: importlib.import_module("cfnlint.data.schemas.providers." + r.replace("-", "_")).types for r in regions}
    enum = json.load(open(os.path.join(base, "extensions", "aws_rds_dbinstance", "dbinstanceclass_enum.json"), encoding="utf-8"))

    def classes(region: str, engine: str = "postgres") -> set[str]:
        for rule in enum.get(region, {}).get("allOf", []):
            if rule["if"]["properties"].get("Engine", {}).get("const") == engine:
                return set(rule["then"]["properties"]["DBInstanceClass"]["enum"])
        return set()

    def postgres(region: str) -> set[str]:
        return classes(region)

    stage_types, pinned_types = template_types(dirs)
    return {
        "source": f"cfn-lint {__version__}: cfnlint/data/schemas/providers/<region>.py (CloudFormation resource schemas per region) and extensions/aws_rds_dbinstance/dbinstanceclass_enum.json (engines postgres and aurora-postgresql)",
        "generatedBy": "python3 scripts/region_availability.py cdk.out cdk.out.production",
        "cfnLintVersion": __version__,
        "regions": regions,
        # Only the stacks that follow the stage's region: the cost stack is pinned to us-east-1 (Budgets, Cost Explorer).
        "resourceTypes": {t: [r for r in regions if t in provided[r]] for t in stage_types},
        "pinnedStackTypes": pinned_types,
        "rdsInstanceClasses": {c: [r for r in regions if c in postgres(r)] for c in rds_classes()},
        # The database (lib/vector-database): Aurora Serverless v2 instances are class db.serverless.
        "auroraPostgresServerlessV2": [r for r in regions if "db.serverless" in classes(r, "aurora-postgresql")],
    }


def main() -> int:
    ap = StrictParser(description="Writes lib/config/region-availability.json from cfn-lint's per-region CloudFormation schemas and the synthesized templates.")
    ap.add_argument("--check", action="store_true", help="compare with the checked-in table instead of writing it")
    ap.add_argument("assemblies", nargs="+", help="cloud assembly directories (cdk.out cdk.out.production)")
    a = ap.parse_args()
    table = build(a.assemblies)
    text = json.dumps(table, indent=1) + "\n"
    if a.check:
        current = json.load(open(TABLE, encoding="utf-8"))
        diff = [k for k in ("cfnLintVersion", "regions", "resourceTypes", "pinnedStackTypes", "rdsInstanceClasses", "auroraPostgresServerlessV2") if current.get(k) != table[k]]
        if diff:
            print(f"{os.path.relpath(TABLE, ROOT)} differs from the installed cfn-lint / templates in: {', '.join(diff)}. Regenerate: {table['generatedBy']}", file=sys.stderr)
            return 1
        print(f"{os.path.relpath(TABLE, ROOT)} is current (cfn-lint {table['cfnLintVersion']}, {len(table['resourceTypes'])} resource types)")
        return 0
    open(TABLE, "w", encoding="utf-8").write(text)
    print(f"wrote {os.path.relpath(TABLE, ROOT)}: {len(table['resourceTypes'])} resource types, {len(table['regions'])} regions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
