// PSK-ECDSA through the eciesjs package itself (the version the reference node
// pins, 0.4.6), carrying ciphertexts as latin1 ("binary") strings the way the
// reference node's encrypt endpoint returns them.
//
// stdin (JSON):
//   {"mode":"encrypt","publicKeyHex":"04...","messages":["<base64>",...]}
//     -> {"hashes":["<latin1 string>",...], "version":"<eciesjs version>"}
//   {"mode":"decrypt","privateKeyHex":"...","hashes":["<latin1 string>",...]}
//     -> {"messages":["<base64>",...], "version":"<eciesjs version>"}
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const eciesjs = require('eciesjs');
const { version } = require('eciesjs/package.json');

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const req = JSON.parse(Buffer.concat(chunks).toString('utf8'));

let out;
if (req.mode === 'encrypt') {
  out = {
    hashes: req.messages.map((m) =>
      eciesjs.encrypt(req.publicKeyHex, Buffer.from(m, 'base64')).toString('binary'),
    ),
    version,
  };
} else if (req.mode === 'decrypt') {
  out = {
    messages: req.hashes.map((h) =>
      eciesjs.decrypt(req.privateKeyHex, Buffer.from(h, 'binary')).toString('base64'),
    ),
    version,
  };
} else {
  throw new Error(`unknown mode ${req.mode}`);
}
process.stdout.write(JSON.stringify(out));
