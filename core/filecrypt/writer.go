package filecrypt

import (
	"crypto/cipher"
	"errors"
	"io"
)

// writer seals the plaintext written to it, one chunk at a time.
type writer struct {
	dst    io.Writer
	aead   cipher.AEAD
	header []byte
	// wroteHeader is set once the header went out, on the first Write or
	// Close, so that NewWriter itself never blocks on dst (an io.Pipe).
	wroteHeader bool
	buf         []byte // plaintext of the pending chunk, len <= chunkSize
	out         []byte // sealed chunk scratch
	index       int64
	nonce       [nonceSize]byte
	err         error // sticky
}

var errClosed = errors.New("filecrypt: write to a closed writer")

// NewWriter returns a writer that encrypts what is written to it into dst
// as an nvm-aead-v1 object. Close must be called to write the last chunk; it
// does not close dst. Memory use is one chunk, whatever the size.
func NewWriter(dst io.Writer, password string) (io.WriteCloser, error) {
	header, err := newHeader()
	if err != nil {
		return nil, err
	}
	return newWriter(dst, password, header)
}

// newWriter is NewWriter with a given header (fixed in test vectors).
func newWriter(dst io.Writer, password string, header []byte) (io.WriteCloser, error) {
	aead, err := newAEAD(header, password)
	if err != nil {
		return nil, err
	}
	return &writer{
		dst: dst, aead: aead, header: header,
		buf: make([]byte, 0, chunkSize),
		out: make([]byte, 0, sealedChunk),
	}, nil
}

func (w *writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := 0
	for len(p) > 0 {
		// A full chunk is sealed only once more data shows it is not the
		// last one; Close seals the last.
		if len(w.buf) == chunkSize {
			if err := w.flush(false); err != nil {
				return n, err
			}
		}
		k := copy(w.buf[len(w.buf):chunkSize], p)
		w.buf = w.buf[:len(w.buf)+k]
		p = p[k:]
		n += k
	}
	return n, nil
}

// Close seals and writes the last chunk (an empty one for an empty file).
func (w *writer) Close() error {
	if w.err != nil {
		if w.err == errClosed {
			return nil
		}
		return w.err
	}
	if err := w.flush(true); err != nil {
		return err
	}
	w.err = errClosed
	return nil
}

func (w *writer) flush(last bool) error {
	if !w.wroteHeader {
		if _, err := w.dst.Write(w.header); err != nil {
			w.err = err
			return err
		}
		w.wroteHeader = true
	}
	if w.index >= maxChunks {
		w.err = errors.New("filecrypt: object too large")
		return w.err
	}
	chunkNonce(&w.nonce, w.index, last)
	w.out = w.aead.Seal(w.out[:0], w.nonce[:], w.buf, w.header)
	if _, err := w.dst.Write(w.out); err != nil {
		w.err = err
		return err
	}
	w.index++
	w.buf = w.buf[:0]
	return nil
}
