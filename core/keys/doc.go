// Package keys owns the node's long-lived key material and the wire encryption
// formats built on it.
//
// It holds:
//
//   - the RSA key pair (PEM files; PKCS#1 or PKCS#8 private keys, SPKI or PKCS#1
//     public keys) that clients encrypt DDO file lists to ("PSK-RSA", SPEC 6.1);
//   - the provider account, a secp256k1 key kept in an Ethereum keystore v3 file,
//     which signs chain transactions and decrypts "PSK-ECDSA" payloads (eciesjs
//     0.4.6 ECIES, SPEC 6.2);
//   - the public forms the node publishes (SPEC 6.4): checksummed address,
//     uncompressed ECDSA public key, SPKI PEM of the RSA key;
//   - key generation that writes new files with mode 0600 and never replaces an
//     existing file.
//
// Security rules, which every change to this package must keep:
//
//   - Keys are decrypted once, when a [Keyring] is built at start-up, and never per
//     request.
//   - No private key, password or decrypted secret appears in an error message, a
//     log record or a formatted value: [Keyring] formats and logs as its address
//     only, and errors name what was wrong, never the secret that was wrong.
//   - Malformed input (ciphertexts, PEM, keystores) gives an error wrapping one of
//     the package's sentinels ([ErrBadCiphertext], [ErrBadKey], [ErrBadPassword],
//     [ErrKeyMismatch]); it never panics.
//   - Decryption failures that depend on secret data (RSA-OAEP, CBC padding, GCM
//     tag) all report the same error text, so the message does not act as a
//     padding oracle. PSK-RSA has no integrity check of its own (SPEC 6.1); callers
//     must not expose finer-grained failure detail to clients either.
package keys
