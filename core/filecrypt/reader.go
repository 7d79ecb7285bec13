package filecrypt

import (
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
)

// reader opens an object's chunks one at a time and returns plaintext only
// from chunks that authenticated.
type reader struct {
	src    io.Reader
	aead   cipher.AEAD
	header []byte
	nonce  [nonceSize]byte
	buf    []byte // sealed chunk, plus one byte of lookahead in stream mode
	plain  []byte // authenticated plaintext not yet returned
	index  int64  // next chunk to open
	err    error  // sticky; io.EOF once everything was returned

	// Stream mode (NewReader): the last chunk is the one src ends with;
	// carried is the lookahead byte already read from the next chunk.
	stream  bool
	carried bool
	sawLast bool

	// Range mode (NewRangeReader): sizes are known up front.
	plainSize int64
	skip      int64 // plaintext bytes to drop from the next chunk
	left      int64 // plaintext bytes still to return
}

// NewReader returns a reader of the plaintext of the nvm-aead-v1 object
// that src yields from its first byte. It reads the header now: data in
// another format is ErrFormat. Reads return an error wrapping ErrCorrupt
// when a chunk does not authenticate or the object is cut or extended;
// errors of src are returned as they are.
//
// NewReader consumes the header even when it returns ErrFormat. To choose
// between this format and the legacy one without losing bytes, peek at the
// first 8 bytes (bufio.Reader.Peek): "NVM-AEAD" starts an nvm-aead-v1
// object, "Salted__" a legacy one (NewSaltedReader).
func NewReader(src io.Reader, password string) (io.Reader, error) {
	header := make([]byte, HeaderSize)
	n, err := io.ReadFull(src, header)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		if herr := checkHeader(header[:n]); herr != nil {
			return nil, herr
		}
		return nil, fmt.Errorf("%w: header cut", ErrCorrupt)
	case err != nil:
		return nil, fmt.Errorf("filecrypt: reading the header: %w", err)
	}
	r, err := newReader(header, password, src)
	if err != nil {
		return nil, err
	}
	r.stream = true
	r.buf = make([]byte, sealedChunk+1)
	return r, nil
}

// NewRangeReader returns a reader of plaintext bytes [plainOff,
// plainOff+plainLen) of an object whose plaintext is plainSize bytes long
// (see PlaintextSize). header is the object's first HeaderSize bytes; src
// yields the object from the offset CipherRange(plainOff, plainLen)
// returns, and is read no further than the chunks holding the range. Every
// chunk is authenticated before any of its bytes is returned.
func NewRangeReader(header []byte, password string, src io.Reader, plainOff, plainLen, plainSize int64) (io.Reader, error) {
	if plainSize < 0 || plainOff < 0 || plainLen < 0 || plainOff > plainSize || plainLen > plainSize-plainOff {
		return nil, fmt.Errorf("filecrypt: range [%d, +%d) is not within a plaintext of %d bytes", plainOff, plainLen, plainSize)
	}
	if numChunks(plainSize) > maxChunks {
		return nil, fmt.Errorf("filecrypt: plaintext size %d is too large", plainSize)
	}
	r, err := newReader(header, password, src)
	if err != nil {
		return nil, err
	}
	r.plainSize = plainSize
	r.index = plainOff / chunkSize
	r.skip = plainOff - r.index*chunkSize
	r.left = plainLen
	r.buf = make([]byte, sealedChunk)
	return r, nil
}

func newReader(header []byte, password string, src io.Reader) (*reader, error) {
	if err := checkHeader(header); err != nil {
		return nil, err
	}
	h := append([]byte(nil), header...)
	aead, err := newAEAD(h, password)
	if errors.Is(err, errShortPassword) {
		// No object was ever written with it: it cannot be the right one.
		return nil, fmt.Errorf("%w: password too short", ErrCorrupt)
	}
	if err != nil {
		return nil, err
	}
	return &reader{src: src, aead: aead, header: h}, nil
}

func (r *reader) Read(p []byte) (int, error) {
	for len(r.plain) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if len(p) == 0 {
			return 0, nil
		}
		if r.stream {
			r.err = r.nextStream()
		} else {
			r.err = r.nextRange()
		}
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

// nextStream opens the next chunk of a whole object, or returns io.EOF
// after the last one.
func (r *reader) nextStream() error {
	if r.sawLast {
		return io.EOF
	}
	start := 0
	if r.carried {
		r.buf[0] = r.buf[sealedChunk]
		start = 1
	}
	n, err := io.ReadFull(r.src, r.buf[start:])
	n += start
	last := false
	switch {
	case err == nil:
		r.carried = true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		last = true
		r.carried = false
	default:
		return err
	}
	if !last {
		n = sealedChunk
	}
	if n < tagSize || (n == tagSize && r.index > 0) {
		// Cut inside a tag, or nothing after the header: an empty last
		// chunk exists only for an empty file.
		return fmt.Errorf("%w: object cut after chunk %d", ErrCorrupt, r.index)
	}
	if r.index >= maxChunks {
		return fmt.Errorf("%w: too many chunks", ErrCorrupt)
	}
	pt, err := r.open(r.buf[:n], last)
	if err != nil {
		return err
	}
	r.plain = pt
	r.sawLast = last
	return nil
}

// nextRange opens the next chunk of a range, whose size the plaintext size
// tells, or returns io.EOF once the range is complete.
func (r *reader) nextRange() error {
	if r.left == 0 {
		return io.EOF
	}
	lastIndex := numChunks(r.plainSize) - 1
	size := min(int64(chunkSize), r.plainSize-r.index*chunkSize)
	sealed := r.buf[:size+tagSize]
	if _, err := io.ReadFull(r.src, sealed); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: object cut in chunk %d", ErrCorrupt, r.index)
		}
		return err
	}
	pt, err := r.open(sealed, r.index == lastIndex)
	if err != nil {
		return err
	}
	pt = pt[r.skip:]
	r.skip = 0
	if int64(len(pt)) > r.left {
		pt = pt[:r.left]
	}
	r.left -= int64(len(pt))
	r.plain = pt
	return nil
}

// open authenticates and decrypts one sealed chunk in place.
func (r *reader) open(sealed []byte, last bool) ([]byte, error) {
	chunkNonce(&r.nonce, r.index, last)
	pt, err := r.aead.Open(sealed[:0], r.nonce[:], sealed, r.header)
	if err != nil {
		return nil, fmt.Errorf("%w: chunk %d does not authenticate", ErrCorrupt, r.index)
	}
	r.index++
	return pt, nil
}
