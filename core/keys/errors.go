package keys

import "errors"

// Sentinel errors. Every error returned by this package for bad input wraps one
// of them, so callers can map them with errors.Is without parsing messages.
var (
	// ErrBadCiphertext reports a PSK-RSA or PSK-ECDSA payload that cannot be
	// decrypted: malformed, truncated, tampered with, or made for another key.
	ErrBadCiphertext = errors.New("keys: bad ciphertext")

	// ErrBadKey reports key material that cannot be parsed or is unsuitable
	// (wrong PEM type, wrong algorithm, too small, corrupt keystore).
	ErrBadKey = errors.New("keys: bad key")

	// ErrBadPassword reports a keystore that does not decrypt with the given
	// password. Its text never includes the password.
	ErrBadPassword = errors.New("keys: wrong keystore password")

	// ErrKeyMismatch reports a public key that does not belong to the private key
	// it was configured with.
	ErrKeyMismatch = errors.New("keys: public key does not match private key")
)
