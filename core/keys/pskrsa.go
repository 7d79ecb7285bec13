package keys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// PSK-RSA parameters, fixed by the reference node (SPEC 6.1). They are weak (48
// PBKDF2 iterations, SHA-1 OAEP) but any change breaks every stored DDO.
const (
	pskRSASecretLen  = 16
	pskRSAIterations = 48
	pskRSASalt       = "this is a salt"
)

// errPSKRSADecrypt is the single error for every failure that depends on secret
// data (RSA-OAEP, CBC padding), so its text cannot serve as a padding oracle.
var errPSKRSADecrypt = fmt.Errorf("%w: psk-rsa: decryption failed", ErrBadCiphertext)

// EncryptPSKRSA encrypts msg to pub in the PSK-RSA format of SPEC 6.1:
// hex(base64(IV || AES-128-CBC(pad(msg)))) + "|" + hex(RSA-OAEP-SHA1(secret)).
// msg is encrypted as the raw bytes given; the reference node encrypts the
// latin1 form of its input, which is identical for ASCII.
func EncryptPSKRSA(pub *rsa.PublicKey, msg []byte) (string, error) {
	if pub == nil {
		return "", fmt.Errorf("%w: psk-rsa: no public key", ErrBadKey)
	}
	secret := make([]byte, pskRSASecretLen)
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(secret); err != nil {
		return "", fmt.Errorf("keys: psk-rsa: random secret: %w", err)
	}
	if _, err := rand.Read(iv); err != nil {
		return "", fmt.Errorf("keys: psk-rsa: random IV: %w", err)
	}
	block, err := pskRSACipher(secret)
	if err != nil {
		return "", err
	}
	// The reference pads twice: its own PKCS#7-style pad, then the cipher's
	// standard PKCS#7 on the already aligned data, which always adds one more
	// full block.
	plain := pkcs7Pad(pkcs7Pad(msg))
	raw := make([]byte, aes.BlockSize+len(plain))
	copy(raw, iv)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(raw[aes.BlockSize:], plain)

	wrapped, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, secret, nil)
	if err != nil {
		return "", fmt.Errorf("keys: psk-rsa: encrypt secret: %w", err)
	}
	b64 := base64.StdEncoding.EncodeToString(raw)
	return hex.EncodeToString([]byte(b64)) + "|" + hex.EncodeToString(wrapped), nil
}

// DecryptPSKRSA decrypts a PSK-RSA hash made for priv and returns the raw
// message bytes (UTF-8 for anything this node or an ASCII client encrypted;
// latin1 for non-ASCII text encrypted by the reference node). Every failure
// wraps [ErrBadCiphertext].
func DecryptPSKRSA(priv *rsa.PrivateKey, hash string) ([]byte, error) {
	if priv == nil {
		return nil, fmt.Errorf("%w: psk-rsa: no private key", ErrBadKey)
	}
	left, right, ok := strings.Cut(hash, "|")
	if !ok {
		return nil, fmt.Errorf("%w: psk-rsa: missing '|' separator", ErrBadCiphertext)
	}
	b64, err := hex.DecodeString(left)
	if err != nil {
		return nil, fmt.Errorf("%w: psk-rsa: data part is not hex", ErrBadCiphertext)
	}
	raw, err := base64.StdEncoding.DecodeString(string(b64))
	if err != nil {
		return nil, fmt.Errorf("%w: psk-rsa: data part is not base64", ErrBadCiphertext)
	}
	// IV, at least the inner pad block and the outer PKCS#7 block.
	if len(raw) < 3*aes.BlockSize || len(raw)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: psk-rsa: data length %d is not IV plus whole blocks", ErrBadCiphertext, len(raw))
	}
	wrapped, err := hex.DecodeString(right)
	if err != nil {
		return nil, fmt.Errorf("%w: psk-rsa: key part is not hex", ErrBadCiphertext)
	}
	if len(wrapped) != priv.Size() {
		return nil, fmt.Errorf("%w: psk-rsa: key part is %d bytes, want %d", ErrBadCiphertext, len(wrapped), priv.Size())
	}
	secret, err := rsa.DecryptOAEP(sha1.New(), nil, priv, wrapped, nil)
	if err != nil || len(secret) != pskRSASecretLen {
		return nil, errPSKRSADecrypt
	}
	block, err := pskRSACipher(secret)
	if err != nil {
		return nil, err
	}
	iv, body := raw[:aes.BlockSize], raw[aes.BlockSize:]
	plain := make([]byte, len(body))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, body)
	plain, okOuter := pkcs7Unpad(plain)
	plain, okInner := pkcs7Unpad(plain)
	if okOuter&okInner != 1 {
		return nil, errPSKRSADecrypt
	}
	return bytes.Clone(plain), nil
}

// pskRSACipher derives the AES-128 key from the random secret. The reference
// asks PBKDF2 for 10000 bytes and uses the first 16; PBKDF2 output blocks are
// independent, so deriving 16 bytes gives the same key.
func pskRSACipher(secret []byte) (cipher.Block, error) {
	key, err := pbkdf2.Key(sha256.New, string(secret), []byte(pskRSASalt), pskRSAIterations, 16)
	if err != nil {
		return nil, fmt.Errorf("keys: psk-rsa: derive key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("keys: psk-rsa: AES: %w", err)
	}
	return block, nil
}

// pkcs7Pad appends n bytes of value n (1..16) to reach a whole block.
func pkcs7Pad(b []byte) []byte {
	n := aes.BlockSize - len(b)%aes.BlockSize
	out := make([]byte, len(b), len(b)+n)
	copy(out, b)
	return append(out, bytes.Repeat([]byte{byte(n)}, n)...)
}

// pkcs7Unpad strips PKCS#7 padding from b (a whole number of blocks) and
// reports 1 if it was well formed. It reads the last block the same way for
// any pad value so timing does not reveal where the padding broke.
func pkcs7Unpad(b []byte) ([]byte, int) {
	if len(b) < aes.BlockSize || len(b)%aes.BlockSize != 0 {
		return b, 0
	}
	last := b[len(b)-aes.BlockSize:]
	n := last[aes.BlockSize-1]
	good := subtle.ConstantTimeLessOrEq(1, int(n)) & subtle.ConstantTimeLessOrEq(int(n), aes.BlockSize)
	for i := range aes.BlockSize {
		// Byte i of the last block is padding iff i >= 16-n.
		inPad := subtle.ConstantTimeLessOrEq(aes.BlockSize-int(n), i)
		eq := subtle.ConstantTimeByteEq(last[i], n)
		good &= subtle.ConstantTimeSelect(inPad, eq, 1)
	}
	if good != 1 {
		return b, 0
	}
	return b[:len(b)-int(n)], 1
}
