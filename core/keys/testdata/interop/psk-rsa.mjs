// Independent PSK-RSA implementation (SPEC 6.1) using only Node's built-in
// crypto, to check the Go code against a second implementation.
//
// stdin (JSON):
//   {"mode":"encrypt","publicKeyPem":"...","messages":["<base64>",...]}
//     -> {"hashes":["<hex>|<hex>",...]}
//   {"mode":"decrypt","privateKeyPem":"...","hashes":["<hex>|<hex>",...]}
//     -> {"messages":["<base64>",...]}
import crypto from 'node:crypto';

const SALT = Buffer.from('this is a salt', 'ascii');
const ITERATIONS = 48;

function aesKey(secret) {
  return crypto.pbkdf2Sync(secret, SALT, ITERATIONS, 16, 'sha256');
}

function innerPad(buf) {
  const n = 16 - (buf.length % 16);
  return Buffer.concat([buf, Buffer.alloc(n, n)]);
}

function encrypt(publicKeyPem, message) {
  const secret = crypto.randomBytes(16);
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv('aes-128-cbc', aesKey(secret), iv); // PKCS#7 on
  const ct = Buffer.concat([cipher.update(innerPad(message)), cipher.final()]);
  const b64 = Buffer.concat([iv, ct]).toString('base64');
  const wrapped = crypto.publicEncrypt(
    { key: publicKeyPem, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
    secret,
  );
  return Buffer.from(b64, 'ascii').toString('hex') + '|' + wrapped.toString('hex');
}

function decrypt(privateKeyPem, hash) {
  const sep = hash.indexOf('|');
  if (sep < 0) throw new Error('missing separator');
  const raw = Buffer.from(Buffer.from(hash.slice(0, sep), 'hex').toString('ascii'), 'base64');
  const secret = crypto.privateDecrypt(
    { key: privateKeyPem, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
    Buffer.from(hash.slice(sep + 1), 'hex'),
  );
  const decipher = crypto.createDecipheriv('aes-128-cbc', aesKey(secret), raw.subarray(0, 16));
  const padded = Buffer.concat([decipher.update(raw.subarray(16)), decipher.final()]);
  const n = padded[padded.length - 1];
  if (n < 1 || n > 16 || n > padded.length) throw new Error('bad inner padding');
  return padded.subarray(0, padded.length - n);
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const req = JSON.parse(Buffer.concat(chunks).toString('utf8'));

let out;
if (req.mode === 'encrypt') {
  out = { hashes: req.messages.map((m) => encrypt(req.publicKeyPem, Buffer.from(m, 'base64'))) };
} else if (req.mode === 'decrypt') {
  out = { messages: req.hashes.map((h) => decrypt(req.privateKeyPem, h).toString('base64')) };
} else {
  throw new Error(`unknown mode ${req.mode}`);
}
process.stdout.write(JSON.stringify(out));
