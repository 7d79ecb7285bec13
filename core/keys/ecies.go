package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/crypto"
)

// eciesjs 0.4.6 defaults (SPEC 6.2): uncompressed ephemeral key and HKDF input,
// AES-256-GCM with a 16-byte nonce and 16-byte tag.
const (
	eciesPubLen   = 65
	eciesNonceLen = 16
	eciesTagLen   = 16
	eciesOverhead = eciesPubLen + eciesNonceLen + eciesTagLen
)

// errECIESDecrypt is the single error for a payload that fails authentication,
// whatever the reason (wrong key, tampering), so callers learn nothing more.
var errECIESDecrypt = fmt.Errorf("%w: psk-ecdsa: decryption failed", ErrBadCiphertext)

// EncryptECIES encrypts msg to the secp256k1 public key pub exactly as eciesjs
// 0.4.6 encrypt does: ephemeralPub (65) || nonce (16) || tag (16) || ciphertext.
func EncryptECIES(pub *ecdsa.PublicKey, msg []byte) ([]byte, error) {
	if pub == nil || pub.X == nil || pub.Y == nil || !crypto.S256().IsOnCurve(pub.X, pub.Y) {
		return nil, fmt.Errorf("%w: psk-ecdsa: public key is not a secp256k1 point", ErrBadKey)
	}
	eph, err := crypto.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("keys: psk-ecdsa: ephemeral key: %w", err)
	}
	ephPub := crypto.FromECDSAPub(&eph.PublicKey)
	aead, err := eciesAEAD(ephPub, sharedPoint(pub, eph.D))
	if err != nil {
		return nil, err
	}
	out := make([]byte, eciesPubLen+eciesNonceLen, eciesOverhead+len(msg))
	copy(out, ephPub)
	nonce := out[eciesPubLen:]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("keys: psk-ecdsa: random nonce: %w", err)
	}
	// Go's GCM appends the tag to the ciphertext; eciesjs puts it in front.
	sealed := aead.Seal(nil, nonce, msg, nil)
	out = append(out, sealed[len(msg):]...)
	return append(out, sealed[:len(msg)]...), nil
}

// DecryptECIES reverses [EncryptECIES] (and eciesjs 0.4.6 encrypt) with the
// receiver's private key. Every failure wraps [ErrBadCiphertext].
func DecryptECIES(priv *ecdsa.PrivateKey, data []byte) ([]byte, error) {
	if priv == nil || priv.D == nil || priv.D.Sign() <= 0 || priv.D.BitLen() > 256 {
		return nil, fmt.Errorf("%w: psk-ecdsa: not a secp256k1 private key", ErrBadKey)
	}
	if len(data) < eciesOverhead {
		return nil, fmt.Errorf("%w: psk-ecdsa: %d bytes is shorter than the %d-byte header", ErrBadCiphertext, len(data), eciesOverhead)
	}
	ephPub := data[:eciesPubLen]
	if ephPub[0] != 0x04 {
		return nil, fmt.Errorf("%w: psk-ecdsa: ephemeral key is not an uncompressed point", ErrBadCiphertext)
	}
	eph, err := crypto.UnmarshalPubkey(ephPub)
	if err != nil {
		return nil, fmt.Errorf("%w: psk-ecdsa: ephemeral key is not on secp256k1", ErrBadCiphertext)
	}
	aead, err := eciesAEAD(ephPub, sharedPoint(eph, priv.D))
	if err != nil {
		return nil, err
	}
	nonce := data[eciesPubLen : eciesPubLen+eciesNonceLen]
	tag := data[eciesPubLen+eciesNonceLen : eciesOverhead]
	ct := data[eciesOverhead:]
	sealed := make([]byte, 0, len(ct)+len(tag))
	sealed = append(append(sealed, ct...), tag...)
	plain, err := aead.Open(sealed[:0], nonce, sealed, nil)
	if err != nil {
		return nil, errECIESDecrypt
	}
	return plain, nil
}

// sharedPoint returns scalar*pub as an uncompressed point, the HKDF input eciesjs
// uses when isHkdfKeyCompressed is false.
func sharedPoint(pub *ecdsa.PublicKey, scalar *big.Int) []byte {
	curve := crypto.S256()
	x, y := curve.ScalarMult(pub.X, pub.Y, scalar.FillBytes(make([]byte, 32)))
	return curve.Marshal(x, y)
}

// eciesAEAD derives the AES-256-GCM cipher from HKDF-SHA256 over
// ephemeralPub || sharedPoint, without salt or info, as eciesjs does.
func eciesAEAD(ephPub, shared []byte) (cipher.AEAD, error) {
	ikm := make([]byte, 0, len(ephPub)+len(shared))
	ikm = append(append(ikm, ephPub...), shared...)
	key, err := hkdf.Key(sha256.New, ikm, nil, "", 32)
	if err != nil {
		return nil, fmt.Errorf("keys: psk-ecdsa: derive key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("keys: psk-ecdsa: AES: %w", err)
	}
	aead, err := cipher.NewGCMWithNonceSize(block, eciesNonceLen)
	if err != nil {
		return nil, fmt.Errorf("keys: psk-ecdsa: GCM: %w", err)
	}
	return aead, nil
}

// EncryptPSKECDSA encrypts msg to pub and returns the PSK-ECDSA hash: the
// eciesjs bytes as a latin1 string (SPEC 6.2), which JSON carries as text.
func EncryptPSKECDSA(pub *ecdsa.PublicKey, msg []byte) (string, error) {
	data, err := EncryptECIES(pub, msg)
	if err != nil {
		return "", err
	}
	return Latin1String(data), nil
}

// DecryptPSKECDSA decrypts a PSK-ECDSA hash (latin1 string) with priv.
func DecryptPSKECDSA(priv *ecdsa.PrivateKey, hash string) ([]byte, error) {
	data, err := Latin1Bytes(hash)
	if err != nil {
		return nil, fmt.Errorf("psk-ecdsa: %w", err)
	}
	return DecryptECIES(priv, data)
}
