/**
 * Writes the Python copy of the contract (lib/contract: access tiers, limits, metric and environment
 * variable names) to lambda/shared/docai_shared/contract.json, or checks that it is current.
 *
 *   npm run contract [-- --check]
 */
import * as fs from 'fs';
import * as path from 'path';
import { contractJson, PYTHON_CONTRACT_PATH } from '../lib/contract';
import { Cli, CliError, parseCli, runCli } from './cli';

const CLI: Cli = {
  name: 'npm run contract',
  usage: 'npm run contract [-- --check]',
  summary: `Writes ${PYTHON_CONTRACT_PATH} from lib/contract (the values TypeScript and Python share); --check only fails when it is stale.`,
  flags: {
    check: { type: 'boolean', description: 'exit 1 when the file differs from lib/contract, without writing it' },
  },
};

runCli(() => {
  const { values } = parseCli(CLI);
  const file = path.join(__dirname, '..', PYTHON_CONTRACT_PATH);
  const want = contractJson();
  const have = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
  if (values.check) {
    if (have !== want) throw new CliError(`${PYTHON_CONTRACT_PATH} is stale: run npm run contract`);
    return;
  }
  if (have !== want) fs.writeFileSync(file, want);
  console.log(`${PYTHON_CONTRACT_PATH} ${have === want ? 'is current' : 'written'}`);
});
