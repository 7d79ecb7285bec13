package filecrypt

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// Scheme names the format in a file entry's "encryption" field.
const Scheme = "nvm-aead-v1"

// HeaderSize is the size in bytes of the header at the start of every
// nvm-aead-v1 object.
const HeaderSize = 48

// Layout constants of nvm-aead-v1 (see FORMAT.md).
const (
	magic       = "NVM-AEAD"
	version1    = 1
	chunkSize   = 64 << 10            // plaintext bytes per chunk (the last may hold fewer)
	tagSize     = 16                  // AES-GCM tag
	sealedChunk = chunkSize + tagSize // ciphertext bytes per full chunk
	saltSize    = 32
	nonceSize   = 12
	keyInfo     = "nvm-aead-v1 payload key"
	// minPassword is the shortest password accepted: 32 bytes (a password
	// from NewPassword has 43) so that the fast key derivation is safe.
	minPassword = 32
	// maxChunks bounds chunk indices to what the 11-byte counter holds and
	// what int64 sizes can address.
	maxChunks = (1<<63 - 1 - HeaderSize) / sealedChunk
)

// Offsets of the header fields.
const (
	offVersion   = 8
	offReserved  = 9
	offChunkSize = 12
	offSalt      = 16
)

var (
	// ErrCorrupt reports an object that does not authenticate: tampered,
	// truncated, extended, reordered, or read with the wrong password.
	ErrCorrupt = errors.New("filecrypt: corrupt object or wrong password")
	// ErrFormat reports data that is not in the format being read (wrong
	// magic or an unknown version).
	ErrFormat = errors.New("filecrypt: not an object of this format")
)

// NewPassword returns a fresh password: 32 random bytes in unpadded
// base64url, 43 characters, as the reference node makes them (SPEC 2.10).
func NewPassword() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("filecrypt: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// CiphertextSize returns the size of the object holding plainSize bytes of
// plaintext, header included. plainSize must not be negative.
func CiphertextSize(plainSize int64) int64 {
	return HeaderSize + plainSize + tagSize*numChunks(plainSize)
}

// PlaintextSize returns the plaintext size of an object of cipherSize
// bytes. A size no nvm-aead-v1 object can have (cut inside a tag, or one
// more empty chunk) is an error wrapping ErrCorrupt.
func PlaintextSize(cipherSize int64) (int64, error) {
	body := cipherSize - HeaderSize
	if body < tagSize {
		return 0, fmt.Errorf("%w: %d bytes is too short for an object", ErrCorrupt, cipherSize)
	}
	n := (body + sealedChunk - 1) / sealedChunk
	last := body - (n-1)*sealedChunk
	if last < tagSize || (last == tagSize && n > 1) {
		return 0, fmt.Errorf("%w: %d bytes is not the size of an object", ErrCorrupt, cipherSize)
	}
	return body - n*tagSize, nil
}

// CipherRange returns the byte range of the object that holds plaintext
// bytes [plainOff, plainOff+plainLen): whole chunks, header counted in the
// offset. The range may run past the end of the object when it reaches the
// last, shorter chunk; cut it to the object's size as HTTP ranges and
// storage.Range do. A plainLen of zero or less gives a zero-length range.
func CipherRange(plainOff, plainLen int64) (cipherOff, cipherLen int64) {
	if plainOff < 0 {
		plainOff = 0
	}
	first := min(plainOff/chunkSize, maxChunks)
	cipherOff = HeaderSize + first*sealedChunk
	if plainLen <= 0 {
		return cipherOff, 0
	}
	end := plainOff + plainLen
	if end < plainOff { // overflow
		end = 1<<63 - 1
	}
	last := (end - 1) / chunkSize
	last = min(last, maxChunks-1)
	if last < first {
		return cipherOff, 0
	}
	return cipherOff, (last - first + 1) * sealedChunk
}

// numChunks is how many chunks hold plainSize bytes: at least one, so that
// an empty file still carries a tag that proves it is complete.
func numChunks(plainSize int64) int64 {
	if plainSize <= 0 {
		return 1
	}
	return (plainSize + chunkSize - 1) / chunkSize
}

// newHeader returns a header with a fresh salt.
func newHeader() ([]byte, error) {
	h := make([]byte, HeaderSize)
	copy(h, magic)
	h[offVersion] = version1
	binary.BigEndian.PutUint32(h[offChunkSize:], chunkSize)
	if _, err := rand.Read(h[offSalt:]); err != nil {
		return nil, fmt.Errorf("filecrypt: %w", err)
	}
	return h, nil
}

// checkHeader validates a header read from an object. Another magic or
// version is ErrFormat; a v1 header with impossible fields is ErrCorrupt
// (it cannot authenticate anyway, and saying so is more useful).
func checkHeader(h []byte) error {
	if len(h) < offVersion+1 {
		if bytes.HasPrefix([]byte(magic), h) && len(h) > 0 {
			return fmt.Errorf("%w: header cut after %d bytes", ErrCorrupt, len(h))
		}
		return ErrFormat
	}
	if string(h[:len(magic)]) != magic {
		return ErrFormat
	}
	if h[offVersion] != version1 {
		return fmt.Errorf("%w: version %d", ErrFormat, h[offVersion])
	}
	if len(h) < HeaderSize {
		return fmt.Errorf("%w: header cut after %d bytes", ErrCorrupt, len(h))
	}
	if len(h) > HeaderSize {
		return fmt.Errorf("%w: header of %d bytes", ErrCorrupt, len(h))
	}
	if h[offReserved] != 0 || h[offReserved+1] != 0 || h[offReserved+2] != 0 {
		return fmt.Errorf("%w: reserved header bytes are set", ErrCorrupt)
	}
	if binary.BigEndian.Uint32(h[offChunkSize:]) != chunkSize {
		return fmt.Errorf("%w: chunk size %d", ErrCorrupt, binary.BigEndian.Uint32(h[offChunkSize:]))
	}
	return nil
}

// newAEAD derives the object's key from the password and the header's salt.
func newAEAD(header []byte, password string) (cipher.AEAD, error) {
	if len(password) < minPassword {
		return nil, errShortPassword
	}
	key, err := hkdf.Key(sha256.New, []byte(password), header[offSalt:HeaderSize], keyInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("filecrypt: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("filecrypt: %w", err)
	}
	return cipher.NewGCM(block)
}

var errShortPassword = fmt.Errorf("filecrypt: password shorter than %d bytes", minPassword)

// chunkNonce is STREAM's nonce: the chunk index as an 11-byte big-endian
// counter, then 1 for the last chunk and 0 for the others.
func chunkNonce(nonce *[nonceSize]byte, index int64, last bool) {
	clear(nonce[:])
	binary.BigEndian.PutUint64(nonce[3:11], uint64(index))
	if last {
		nonce[11] = 1
	}
}
