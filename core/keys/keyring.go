package keys

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Keyring holds the node's decrypted long-lived keys: the provider account
// (secp256k1) and the RSA key pair. It is built once at start-up and is safe
// for concurrent use; nothing in it changes after construction.
//
// Build one with [NewKeyring] or [LoadKeyring]; the zero value holds no keys.
// A Keyring formats, prints and logs as its address only; no formatting verb,
// slog handler or JSON encoding shows key material.
type Keyring struct {
	signer    *ecdsa.PrivateKey
	address   common.Address
	ecdsaPub  string
	rsaKey    *rsa.PrivateKey
	rsaPubPEM string
}

// NewKeyring builds a Keyring from already decrypted keys. The keys must not be
// modified afterwards.
func NewKeyring(signer *ecdsa.PrivateKey, rsaKey *rsa.PrivateKey) (*Keyring, error) {
	if signer == nil || signer.D == nil || signer.PublicKey.X == nil {
		return nil, fmt.Errorf("%w: keyring: missing provider key", ErrBadKey)
	}
	if !crypto.S256().IsOnCurve(signer.PublicKey.X, signer.PublicKey.Y) {
		return nil, fmt.Errorf("%w: keyring: provider key is not secp256k1", ErrBadKey)
	}
	if rsaKey == nil {
		return nil, fmt.Errorf("%w: keyring: missing RSA key", ErrBadKey)
	}
	if err := checkRSASize(rsaKey.N.BitLen()); err != nil {
		return nil, err
	}
	pubPEM, err := EncodeRSAPublicKeyPEM(&rsaKey.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Keyring{
		signer:    signer,
		address:   crypto.PubkeyToAddress(signer.PublicKey),
		ecdsaPub:  "0x" + hex.EncodeToString(crypto.FromECDSAPub(&signer.PublicKey)),
		rsaKey:    rsaKey,
		rsaPubPEM: pubPEM,
	}, nil
}

// Sources names where the node's keys come from, with the reference node's
// variable meanings (SPEC 9.2). It formats and logs with the password redacted.
type Sources struct {
	// ProviderKeyfile is PROVIDER_KEYFILE: keystore JSON content or a path.
	ProviderKeyfile string
	// ProviderPassword is PROVIDER_PASSWORD, the keystore password.
	ProviderPassword string
	// RSAPrivateKeyFile is RSA_PRIVKEY_FILE, a PEM file path.
	RSAPrivateKeyFile string
	// RSAPublicKeyFile is RSA_PUBKEY_FILE, a PEM file path. Optional: when set it
	// must hold the public half of the private key.
	RSAPublicKeyFile string
}

// LoadKeyring reads and decrypts the keys named by src. It is meant to run once
// at start-up: keystore decryption is deliberately slow.
func LoadKeyring(src Sources) (*Keyring, error) {
	signer, err := LoadProviderKey(src.ProviderKeyfile, src.ProviderPassword)
	if err != nil {
		return nil, fmt.Errorf("provider keystore: %w", err)
	}
	rsaKey, err := LoadRSAPrivateKeyFile(src.RSAPrivateKeyFile)
	if err != nil {
		return nil, err
	}
	if src.RSAPublicKeyFile != "" {
		pub, err := LoadRSAPublicKeyFile(src.RSAPublicKeyFile)
		if err != nil {
			return nil, err
		}
		if err := CheckRSAKeyPair(rsaKey, pub); err != nil {
			return nil, fmt.Errorf("RSA key files %s and %s: %w", displayPath(src.RSAPrivateKeyFile), displayPath(src.RSAPublicKeyFile), err)
		}
	}
	return NewKeyring(signer, rsaKey)
}

// Address is the provider account address (SPEC provider-address).
func (k *Keyring) Address() common.Address { return k.address }

// ECDSAPublicKeyHex is the provider's uncompressed secp256k1 public key as
// "0x04" followed by 128 hex digits (SPEC ecdsa-public-key).
func (k *Keyring) ECDSAPublicKeyHex() string { return k.ecdsaPub }

// ECDSAPublicKey is the provider's secp256k1 public key.
func (k *Keyring) ECDSAPublicKey() *ecdsa.PublicKey {
	pub := k.signer.PublicKey
	return &pub
}

// RSAPublicKeyPEM is the RSA public key as SPKI PEM without a trailing newline
// (SPEC rsa-public-key and the encrypt endpoint's public-key).
func (k *Keyring) RSAPublicKeyPEM() string { return k.rsaPubPEM }

// RSAPublicKey is the RSA public key.
func (k *Keyring) RSAPublicKey() *rsa.PublicKey {
	pub := k.rsaKey.PublicKey
	return &pub
}

// PrivateKey returns the provider account's signing key for chain transactions.
// It is secret: never log, print or serialize it, and do not modify it.
func (k *Keyring) PrivateKey() *ecdsa.PrivateKey { return k.signer }

// EncryptPSKRSA encrypts msg to the node's RSA key in the PSK-RSA format.
func (k *Keyring) EncryptPSKRSA(msg []byte) (string, error) {
	return EncryptPSKRSA(&k.rsaKey.PublicKey, msg)
}

// DecryptPSKRSA decrypts a PSK-RSA hash made for the node's RSA key.
func (k *Keyring) DecryptPSKRSA(hash string) ([]byte, error) {
	return DecryptPSKRSA(k.rsaKey, hash)
}

// EncryptPSKECDSA encrypts msg to the provider account's key in the PSK-ECDSA
// format (eciesjs bytes as a latin1 string).
func (k *Keyring) EncryptPSKECDSA(msg []byte) (string, error) {
	return EncryptPSKECDSA(&k.signer.PublicKey, msg)
}

// DecryptPSKECDSA decrypts a PSK-ECDSA hash made for the provider account.
func (k *Keyring) DecryptPSKECDSA(hash string) ([]byte, error) {
	return DecryptPSKECDSA(k.signer, hash)
}

// redacted is how a Keyring shows itself anywhere: the address is public.
// The formatting methods have value receivers so that a dereferenced copy of a
// Keyring is redacted too, instead of fmt walking its fields.
func (k Keyring) redacted() string {
	return "keys.Keyring{address: " + k.address.Hex() + "}"
}

// String implements fmt.Stringer with the address only.
func (k Keyring) String() string { return k.redacted() }

// GoString implements fmt.GoStringer with the address only.
func (k Keyring) GoString() string { return k.redacted() }

// Format implements fmt.Formatter so that every verb (%d and %x included, which
// would otherwise walk the struct) prints the address only.
func (k Keyring) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.redacted()) }

// LogValue implements slog.LogValuer with the address only.
func (k Keyring) LogValue() slog.Value {
	return slog.GroupValue(slog.String("address", k.address.Hex()))
}

// String implements fmt.Stringer with the password redacted.
func (s Sources) String() string {
	pw := "<unset>"
	if s.ProviderPassword != "" {
		pw = "<redacted>"
	}
	keyfile := displayPath(s.ProviderKeyfile)
	if strings.HasPrefix(strings.TrimSpace(s.ProviderKeyfile), "{") {
		keyfile = "(inline keystore JSON)"
	}
	return fmt.Sprintf("keys.Sources{ProviderKeyfile: %s, ProviderPassword: %s, RSAPrivateKeyFile: %s, RSAPublicKeyFile: %s}",
		keyfile, pw, displayPath(s.RSAPrivateKeyFile), displayPath(s.RSAPublicKeyFile))
}

// GoString implements fmt.GoStringer with the password redacted.
func (s Sources) GoString() string { return s.String() }

// Format implements fmt.Formatter so every verb redacts the password.
func (s Sources) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// LogValue implements slog.LogValuer with the password redacted.
func (s Sources) LogValue() slog.Value { return slog.StringValue(s.String()) }
