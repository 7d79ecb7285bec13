// Compiles the Nevermined v3 contracts the nvm-node dev chain deploys and writes
// one JSON file mapping contract name -> {abi, bytecode}.
//
// Usage: node compile.mjs OUTFILE
//
// Sources come from npm @nevermined-io/contracts (folder lib/), imports resolve
// from this folder's node_modules (OpenZeppelin 4.8.3; 4.9 does not compile).
// Only the files that define the contracts below are entry points, so test/ and
// the Aave sources are never compiled; solc pulls in their imports through the
// import callback.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const nodeModules = path.join(here, 'node_modules');
const lib = '@nevermined-io/contracts/lib';

// Contract name -> source file under lib/. Keep in sync with
// core/contracts (the Go package checks it finds exactly these names).
const CONTRACTS = {
  NeverminedConfig: 'governance/NeverminedConfig.sol',
  NFT1155Upgradeable: 'token/erc1155/NFT1155Upgradeable.sol',
  NFT721Upgradeable: 'token/erc721/NFT721Upgradeable.sol',
  DIDRegistry: 'registry/DIDRegistry.sol',
  TemplateStoreManager: 'templates/TemplateStoreManager.sol',
  ConditionStoreManager: 'conditions/ConditionStoreManager.sol',
  AgreementStoreManager: 'agreements/AgreementStoreManager.sol',
  LockPaymentCondition: 'conditions/LockPaymentCondition.sol',
  EscrowPaymentCondition: 'conditions/rewards/EscrowPaymentCondition.sol',
  AccessCondition: 'conditions/AccessCondition.sol',
  ComputeExecutionCondition: 'conditions/ComputeExecutionCondition.sol',
  AccessTemplate: 'templates/AccessTemplate.sol',
  EscrowComputeExecutionTemplate: 'templates/EscrowComputeExecutionTemplate.sol',
  NFTHolderCondition: 'conditions/NFTs/NFTHolderCondition.sol',
  NFTLockCondition: 'conditions/NFTs/NFTLockCondition.sol',
  NFTAccessCondition: 'conditions/NFTs/NFTAccessCondition.sol',
  TransferNFTCondition: 'conditions/NFTs/TransferNFTCondition.sol',
  NFTAccessTemplate: 'templates/NFTAccessTemplate.sol',
  NFTSalesTemplate: 'templates/NFTSalesTemplate.sol',
  NFT721HolderCondition: 'conditions/NFTs/NFT721HolderCondition.sol',
  NFT721LockCondition: 'conditions/NFTs/NFT721LockCondition.sol',
  TransferNFT721Condition: 'conditions/NFTs/TransferNFT721Condition.sol',
  NFT721AccessTemplate: 'templates/NFT721AccessTemplate.sol',
  NFT721SalesTemplate: 'templates/NFT721SalesTemplate.sol',
  TransferDIDOwnershipCondition: 'conditions/TransferDIDOwnershipCondition.sol',
  DIDSalesTemplate: 'templates/DIDSalesTemplate.sol',
  StandardRoyalties: 'royalties/StandardRoyalties.sol',
  CurveRoyalties: 'royalties/CurveRoyalties.sol',
  NeverminedToken: 'NeverminedToken.sol',
  Dispenser: 'Dispenser.sol',
  RewardsDistributor: 'royalties/RewardsDistributor.sol',
};

// Common.sol imports hardhat's console library without using it.
const STUBS = {
  'hardhat/console.sol': '// SPDX-License-Identifier: MIT\npragma solidity >=0.4.22 <0.9.0;\nlibrary console {}\n',
};

const EXPECTED_SOLC = '0.8.17';

function fail(msg) {
  console.error(`compile.mjs: ${msg}`);
  process.exit(1);
}

// readSource resolves an import path inside node_modules only; anything that
// would escape it is refused rather than read from elsewhere on disk.
function readSource(importPath) {
  if (Object.hasOwn(STUBS, importPath)) {
    return STUBS[importPath];
  }
  const full = path.resolve(nodeModules, importPath);
  if (!full.startsWith(nodeModules + path.sep)) {
    throw new Error(`import escapes node_modules: ${importPath}`);
  }
  if (importPath.includes('/defi/aave/') || importPath.includes(`${lib}/test/`)) {
    throw new Error(`import of excluded source: ${importPath}`);
  }
  return fs.readFileSync(full, 'utf8');
}

function main() {
  const outFile = process.argv[2];
  if (!outFile) {
    fail('usage: node compile.mjs OUTFILE');
  }
  const solc = require('solc');
  const version = solc.version();
  if (!version.startsWith(EXPECTED_SOLC + '+')) {
    fail(`solc ${EXPECTED_SOLC} required, found ${version}`);
  }

  const sources = {};
  const outputSelection = {};
  for (const [name, file] of Object.entries(CONTRACTS)) {
    const unit = `${lib}/${file}`;
    sources[unit] = { content: readSource(unit) };
    outputSelection[unit] ??= {};
    outputSelection[unit][name] = ['abi', 'evm.bytecode.object'];
  }
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      outputSelection,
    },
  };

  const started = Date.now();
  const findImports = (p) => {
    try {
      return { contents: readSource(p) };
    } catch (err) {
      return { error: String(err.message || err) };
    }
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const errors = (output.errors || []).filter((e) => e.severity === 'error');
  const warnings = (output.errors || []).length - errors.length;
  if (errors.length > 0) {
    for (const e of errors) {
      console.error(e.formattedMessage || e.message);
    }
    fail(`${errors.length} compile error(s)`);
  }

  const result = {};
  for (const [name, file] of Object.entries(CONTRACTS)) {
    const c = output.contracts?.[`${lib}/${file}`]?.[name];
    if (!c || !c.evm?.bytecode?.object) {
      fail(`no bytecode for ${name} in ${file}`);
    }
    result[name] = { abi: c.abi, bytecode: '0x' + c.evm.bytecode.object };
  }

  // Write then rename so a reader never sees half a file.
  fs.mkdirSync(path.dirname(path.resolve(outFile)), { recursive: true });
  const tmp = `${outFile}.tmp${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(result));
  fs.renameSync(tmp, outFile);
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.error(
    `compile.mjs: solc ${version}: ${Object.keys(result).length} contracts in ${secs}s (${warnings} warnings) -> ${outFile}`,
  );
}

main();
