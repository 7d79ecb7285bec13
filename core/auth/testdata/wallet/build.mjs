// Compiles Wallet.sol with solc-js 0.8.17 and prints the creation bytecode as
// hex (no 0x). Wallet.bin is this script's output:
//   npm ci --prefix core/auth/testdata/wallet
//   node core/auth/testdata/wallet/build.mjs > core/auth/testdata/wallet/Wallet.bin
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const solc = require('solc');
const here = dirname(fileURLToPath(import.meta.url));

const input = {
  language: 'Solidity',
  sources: { 'Wallet.sol': { content: readFileSync(join(here, 'Wallet.sol'), 'utf8') } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { 'Wallet.sol': { Wallet: ['evm.bytecode.object'] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === 'error');
if (errors.length > 0) {
  process.stderr.write(errors.map((e) => e.formattedMessage).join('\n'));
  process.exit(1);
}
process.stdout.write(out.contracts['Wallet.sol'].Wallet.evm.bytecode.object + '\n');
