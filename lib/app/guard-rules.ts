/**
 * Which AWS Control Tower guard rules can apply to a template (used by ControlTowerGuard in
 * rule-packs.ts). Not exported from the package: an implementation detail of that plugin.
 */
import * as fs from 'fs';
import * as path from 'path';

/** The rule files shipped with @cdklabs/cdk-validator-cfnguard (what CfnGuardValidator runs by default). */
export const GUARD_RULES_DIR = path.join(path.dirname(require.resolve('@cdklabs/cdk-validator-cfnguard/package.json')), 'rules', 'control-tower', 'cfn-guard');

let ruleTypes: ReadonlyMap<string, ReadonlySet<string>> | undefined;

/** Every rule file and the resource types its code names (comments left out: they cite other types). */
export function guardRuleFiles(): ReadonlyMap<string, ReadonlySet<string>> {
  if (!ruleTypes) {
    const files = new Map<string, ReadonlySet<string>>();
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        const file = path.join(dir, e.name);
        if (e.isDirectory()) walk(file);
        else if (e.name.endsWith('.guard')) {
          const code = fs.readFileSync(file, 'utf8').split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
          files.set(file, new Set(code.match(/AWS::[A-Za-z0-9]+::[A-Za-z0-9]+/g) ?? []));
        }
      }
    };
    walk(GUARD_RULES_DIR);
    ruleTypes = files;
  }
  return ruleTypes;
}

/**
 * The rule files that can apply to a template with these resource types. A file naming no type at
 * all is always kept (none does today), so a rule selecting resources some other way is never dropped.
 */
export function guardRulesFor(resourceTypes: ReadonlySet<string>): string[] {
  return [...guardRuleFiles()].filter(([, types]) => types.size === 0 || [...types].some((t) => resourceTypes.has(t))).map(([file]) => file);
}

/** The resource types of a synthesized template. */
export function templateResourceTypes(templatePath: string): Set<string> {
  const template = JSON.parse(fs.readFileSync(templatePath, 'utf8'));
  return new Set(Object.values<any>(template.Resources ?? {}).map((r) => r?.Type).filter((t): t is string => typeof t === 'string'));
}
