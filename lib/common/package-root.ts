import * as fs from 'fs';
import * as path from 'path';

let cached: string | undefined;

/**
 * The folder holding docai-blueprint's package.json: where lambda/, prompts/ and the SQL live, both when
 * this code runs from its sources (lib/, under tsx or jest) and compiled (dist/lib/, in a consumer's
 * node_modules). Found by walking up from this file, so no asset path counts `..`s.
 */
export function packageRoot(): string {
  if (cached) return cached;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, 'utf8')).name === 'docai-blueprint') return (cached = dir);
    if (path.dirname(dir) === dir) throw new Error(`docai-blueprint: no package.json named docai-blueprint above ${__dirname}: the package is incomplete; reinstall it.`);
  }
}

/** A path inside the package (`packagePath('lambda', 'shared')`). */
export function packagePath(...parts: string[]): string {
  return path.join(packageRoot(), ...parts);
}
