package filecrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
)

// The reference node's "Salted__" format (SPEC 6.3), which is OpenSSL's
// `enc -aes-256-cbc -pbkdf2 -iter 10000 -md sha256` layout.
const (
	saltedMagic      = "Salted__"
	saltedSaltSize   = 8
	saltedHeaderSize = len(saltedMagic) + saltedSaltSize
	saltedIterations = 10000
	// saltedHoldBack is what a streaming decrypter keeps until it knows the
	// end: PKCS#7 (up to one block) over the custom pad (up to one block).
	saltedHoldBack = 2 * aes.BlockSize
	// saltedBatch is how much ciphertext is decrypted per read.
	saltedBatch = 64 << 10
)

// EncryptSalted encrypts plain as the reference node encrypts uploads, on
// the raw bytes (SPEC 6.3 GO): "Salted__" | salt | AES-256-CBC(plain |
// custom pad | PKCS#7), key and IV from PBKDF2-HMAC-SHA256(password, salt,
// 10000). The custom pad appends m bytes of value m, m = 16 - len%16, so
// PKCS#7 always adds a full block on top. It is kept for compatibility
// tests and tools; new objects use NewWriter.
func EncryptSalted(plain []byte, password string) ([]byte, error) {
	salt := make([]byte, saltedSaltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("filecrypt: %w", err)
	}
	mode, err := saltedCBC(password, salt, true)
	if err != nil {
		return nil, err
	}
	m := aes.BlockSize - len(plain)%aes.BlockSize
	out := make([]byte, saltedHeaderSize, saltedHeaderSize+len(plain)+m+aes.BlockSize)
	copy(out, saltedMagic)
	copy(out[len(saltedMagic):], salt)
	body := append(out[saltedHeaderSize:], plain...)
	for range m {
		body = append(body, byte(m))
	}
	for range aes.BlockSize {
		body = append(body, aes.BlockSize) // PKCS#7 of already aligned data
	}
	mode.CryptBlocks(body, body)
	return out[:saltedHeaderSize+len(body)], nil
}

// saltedCBC derives key and IV from the password and salt.
func saltedCBC(password string, salt []byte, encrypt bool) (cipher.BlockMode, error) {
	kdf, err := pbkdf2.Key(sha256.New, password, salt, saltedIterations, 48)
	if err != nil {
		return nil, fmt.Errorf("filecrypt: %w", err)
	}
	block, err := aes.NewCipher(kdf[:32])
	if err != nil {
		return nil, fmt.Errorf("filecrypt: %w", err)
	}
	if encrypt {
		return cipher.NewCBCEncrypter(block, kdf[32:48]), nil
	}
	return cipher.NewCBCDecrypter(block, kdf[32:48]), nil
}

// saltedReader decrypts a "Salted__" stream, holding back the last two
// blocks until src ends, since only then is the padding known.
type saltedReader struct {
	src  io.Reader
	mode cipher.BlockMode
	// buf[off:ready] is decrypted and may be returned; buf[ready:] is
	// decrypted and held back.
	buf        []byte
	off, ready int
	eof        bool
	err        error
}

// NewSaltedReader returns a reader of the plaintext of a legacy
// "Salted__" object (SPEC 6.3), which src yields whole. It decrypts what
// the reference node wrote, and what `openssl enc -aes-256-cbc -pbkdf2
// -iter 10000 -md sha256` wrote from data ending in the custom pad. Data
// without the "Salted__" magic is ErrFormat; a length that is not whole
// blocks, or padding that does not check (a wrong password, usually), is
// ErrCorrupt. The format is not authenticated: a damaged object may also
// decrypt to garbage without an error.
func NewSaltedReader(src io.Reader, password string) (io.Reader, error) {
	head := make([]byte, saltedHeaderSize)
	n, err := io.ReadFull(src, head)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		if n >= len(saltedMagic) && string(head[:len(saltedMagic)]) == saltedMagic {
			return nil, fmt.Errorf("%w: header cut", ErrCorrupt)
		}
		return nil, ErrFormat
	case err != nil:
		return nil, fmt.Errorf("filecrypt: reading the header: %w", err)
	}
	if string(head[:len(saltedMagic)]) != saltedMagic {
		return nil, ErrFormat
	}
	mode, err := saltedCBC(password, head[len(saltedMagic):], false)
	if err != nil {
		return nil, err
	}
	return &saltedReader{src: src, mode: mode, buf: make([]byte, 0, saltedBatch+saltedHoldBack)}, nil
}

func (r *saltedReader) Read(p []byte) (int, error) {
	for r.off == r.ready {
		if r.err != nil {
			return 0, r.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		r.err = r.fill()
	}
	n := copy(p, r.buf[r.off:r.ready])
	r.off += n
	return n, nil
}

// fill reads and decrypts the next batch of whole blocks.
func (r *saltedReader) fill() error {
	if r.eof {
		return io.EOF
	}
	held := copy(r.buf[:cap(r.buf)], r.buf[r.ready:])
	r.off, r.ready = 0, 0
	r.buf = r.buf[:cap(r.buf)]
	n, err := io.ReadFull(r.src, r.buf[held:])
	r.buf = r.buf[:held+n]
	switch {
	case err == nil:
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		r.eof = true
		return r.finish(held)
	default:
		return err
	}
	// The buffer is full: whole blocks, as held is two blocks or none and
	// the batch is block aligned. Decrypt the new bytes, hold back two.
	r.mode.CryptBlocks(r.buf[held:], r.buf[held:])
	r.ready = len(r.buf) - saltedHoldBack
	return nil
}

// finish decrypts the tail and strips PKCS#7 and then the custom pad.
func (r *saltedReader) finish(held int) error {
	if len(r.buf)%aes.BlockSize != 0 || len(r.buf) < 2*aes.BlockSize {
		// The reference always writes the custom pad and a PKCS#7 block.
		return fmt.Errorf("%w: %d bytes of ciphertext is not whole blocks of padded data", ErrCorrupt, len(r.buf))
	}
	r.mode.CryptBlocks(r.buf[held:], r.buf[held:])
	b := r.buf
	var ok bool
	if b, ok = unpad(b); !ok {
		return fmt.Errorf("%w: bad PKCS#7 padding", ErrCorrupt)
	}
	if b, ok = unpad(b); !ok {
		return fmt.Errorf("%w: bad padding", ErrCorrupt)
	}
	r.buf = b
	r.ready = len(b)
	if r.ready == 0 {
		return io.EOF
	}
	return nil
}

// unpad strips n trailing bytes of value n (1..16), checking all of them.
func unpad(b []byte) ([]byte, bool) {
	if len(b) == 0 {
		return nil, false
	}
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize || n > len(b) {
		return nil, false
	}
	for _, c := range b[len(b)-n:] {
		if int(c) != n {
			return nil, false
		}
	}
	return b[:len(b)-n], true
}
