package api

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nvm-node/nvm-node/core/asset"
	"github.com/nvm-node/nvm-node/core/fetch"
	"github.com/nvm-node/nvm-node/core/filecrypt"
)

// schemeSalted is the "encryption" value of legacy uploads (SPEC 6.3).
const schemeSalted = "aes-256-salted"

// download is an opened file, ready to be answered: the whole file or one
// range of it, in plaintext.
type download struct {
	body io.Reader
	// direct is set when body is an unwrapped local file, which the kernel
	// can send itself (sendfile).
	direct  *os.File
	closers []io.Closer
	// size is the file's full size, -1 when unknown.
	size int64
	// partial: body holds bytes [off, off+n) only (206).
	partial bool
	off, n  int64
	// ranges: the file can be read by ranges (Accept-Ranges: bytes).
	ranges      bool
	etag        string
	modTime     time.Time
	contentType string
	name        string
	// decrypted: body authenticates as it goes; prime reads the first
	// chunk before the headers so a bad object answers 502.
	decrypted bool
	// first holds what prime read, to be sent before the rest of body.
	first []byte
}

// prime reads the start of a decrypted body into buf, so that a file that
// does not authenticate is refused before any header or charge.
func (d *download) prime(buf []byte) error {
	if !d.decrypted {
		return nil
	}
	n, err := readSome(d.body, buf)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	d.first = buf[:n]
	return nil
}

func (d *download) close() {
	for _, c := range d.closers {
		c.Close()
	}
}

// openDownload opens file f (at fileURL) as the request asks: rng (nil: the
// whole file) unless ifRange says the client holds another version. A
// file-list entry with a password is decrypted: nvm-aead-v1 by ranges,
// legacy "Salted__" objects as a whole.
func (s *server) openDownload(ctx context.Context, fileURL string, f *asset.File, rng *byteRange, ifRange string) (*download, error) {
	if rng != nil && rng.unsatisfiable {
		// `bytes=-0` asks for no byte; the size still has to be told.
		d, err := s.openDownload(ctx, fileURL, f, nil, "")
		if err != nil {
			return nil, err
		}
		d.close()
		if !ifRangeHolds(ifRange, d.etag, d.modTime) {
			return s.openDownload(ctx, fileURL, f, nil, "")
		}
		return nil, &fetch.RangeError{Size: d.size}
	}
	switch pw := f.Password.Reveal(); {
	case pw != "" && f.Encryption == filecrypt.Scheme:
		return s.openSealed(ctx, fileURL, pw, rng, ifRange)
	case pw != "":
		return s.openLegacy(ctx, fileURL, f, pw)
	}
	var want *fetch.Range
	if rng != nil {
		want = &rng.Range
	}
	obj, err := s.cfg.Files.Open(ctx, fetch.Request{URL: fileURL, Range: want})
	if errors.Is(err, fetch.ErrRangeNotSatisfiable) && ifRange != "" {
		// A resume past the end of a file that changed gets the new file.
		full, ferr := s.cfg.Files.Open(ctx, fetch.Request{URL: fileURL})
		if ferr != nil {
			return nil, ferr
		}
		if !ifRangeHolds(ifRange, entityTag(fileURL, "", full.ETag), full.ModTime) {
			return plainDownload(fileURL, full), nil
		}
		full.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	if want != nil && !ifRangeHolds(ifRange, entityTag(fileURL, "", obj.ETag), obj.ModTime) {
		obj.Body.Close()
		if obj, err = s.cfg.Files.Open(ctx, fetch.Request{URL: fileURL}); err != nil {
			return nil, err
		}
	}
	return plainDownload(fileURL, obj), nil
}

func plainDownload(fileURL string, obj *fetch.Object) *download {
	d := &download{
		body: obj.Body, closers: []io.Closer{obj.Body}, size: obj.Size, ranges: obj.Size >= 0,
		partial: obj.Ranged, off: obj.Offset, n: obj.Length,
		etag: entityTag(fileURL, "", obj.ETag), modTime: obj.ModTime, contentType: obj.ContentType, name: obj.Name,
	}
	if f, ok := obj.Body.(*os.File); ok {
		d.direct = f
	}
	return d
}

// openSealed opens an nvm-aead-v1 object. The whole file is one read; a
// range costs two: the header, then the chunks holding the range, which
// must come from the same version of the object.
func (s *server) openSealed(ctx context.Context, fileURL, password string, rng *byteRange, ifRange string) (*download, error) {
	if rng == nil {
		obj, err := s.cfg.Files.Open(ctx, fetch.Request{URL: fileURL})
		if err != nil {
			return nil, err
		}
		return sealedWhole(fileURL, obj, bufio.NewReaderSize(obj.Body, 64<<10), password)
	}
	head, err := s.cfg.Files.Open(ctx, fetch.Request{URL: fileURL, Range: &fetch.Range{Offset: 0, Length: filecrypt.HeaderSize}})
	if errors.Is(err, fetch.ErrRangeNotSatisfiable) {
		return nil, fmt.Errorf("%w: the object is empty", filecrypt.ErrCorrupt)
	}
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(head.Body, 64<<10)
	if !head.Ranged || head.Size < 0 {
		// The source cannot seek: the whole file it is.
		return sealedWhole(fileURL, head, br, password)
	}
	header := make([]byte, filecrypt.HeaderSize)
	_, err = io.ReadFull(br, header)
	head.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("%w: reading the header: %w", filecrypt.ErrCorrupt, err)
	}
	plainSize, err := filecrypt.PlaintextSize(head.Size)
	if err != nil {
		return nil, err
	}
	etag := entityTag(fileURL, filecrypt.Scheme, head.ETag)
	if !ifRangeHolds(ifRange, etag, head.ModTime) {
		return s.openSealed(ctx, fileURL, password, nil, "")
	}
	off, n, err := rng.Resolve(plainSize)
	if err != nil {
		return nil, err
	}
	cOff, cLen := filecrypt.CipherRange(off, n)
	cLen = min(cLen, head.Size-cOff)
	obj, err := s.cfg.Files.Open(ctx, fetch.Request{URL: fileURL, Range: &fetch.Range{Offset: cOff, Length: cLen}})
	if err != nil {
		return nil, err
	}
	if obj.ETag != head.ETag || obj.Size != head.Size || obj.Offset != cOff {
		obj.Body.Close()
		return nil, fmt.Errorf("%w: the object changed while it was read", fetch.ErrUnavailable)
	}
	plain, err := filecrypt.NewRangeReader(header, password, obj.Body, off, n, plainSize)
	if err != nil {
		obj.Body.Close()
		return nil, err
	}
	return &download{
		body: plain, closers: []io.Closer{obj.Body}, size: plainSize, partial: true, off: off, n: n, ranges: true,
		etag: etag, modTime: head.ModTime, contentType: head.ContentType, name: head.Name, decrypted: true,
	}, nil
}

// sealedWhole decrypts a whole nvm-aead-v1 object read from br (obj's body).
func sealedWhole(fileURL string, obj *fetch.Object, br io.Reader, password string) (*download, error) {
	plain, err := filecrypt.NewReader(br, password)
	if err != nil {
		obj.Body.Close()
		return nil, err
	}
	size := int64(-1)
	if obj.Size >= 0 {
		if size, err = filecrypt.PlaintextSize(obj.Size); err != nil {
			obj.Body.Close()
			return nil, err
		}
	}
	return &download{
		body: plain, closers: []io.Closer{obj.Body}, size: size, ranges: size >= 0,
		etag: entityTag(fileURL, filecrypt.Scheme, obj.ETag), modTime: obj.ModTime,
		contentType: obj.ContentType, name: obj.Name, decrypted: true,
	}, nil
}

// openLegacy opens a file whose entry has a password but no nvm-aead-v1
// mark: a "Salted__" object (SPEC 6.3) is decrypted as a whole (its size
// after padding is unknown, so no ranges); any other object is served as
// stored, whole.
func (s *server) openLegacy(ctx context.Context, fileURL string, f *asset.File, password string) (*download, error) {
	obj, err := s.cfg.Files.Open(ctx, fetch.Request{URL: fileURL})
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(obj.Body, 64<<10)
	magic, _ := br.Peek(8)
	switch {
	case string(magic) == "NVM-AEAD":
		return sealedWhole(fileURL, obj, br, password)
	case string(magic) == "Salted__" || f.Encryption == schemeSalted:
		plain, err := filecrypt.NewSaltedReader(br, password)
		if err != nil {
			obj.Body.Close()
			return nil, err
		}
		return &download{
			body: plain, closers: []io.Closer{obj.Body}, size: -1,
			etag: entityTag(fileURL, schemeSalted, obj.ETag), modTime: obj.ModTime,
			contentType: obj.ContentType, name: obj.Name, decrypted: true,
		}, nil
	}
	return &download{
		body: br, closers: []io.Closer{obj.Body}, size: obj.Size, etag: entityTag(fileURL, "", obj.ETag),
		modTime: obj.ModTime, contentType: obj.ContentType, name: obj.Name,
	}, nil
}

// entityTag is the ETag of what the node serves: a digest of the source's
// strong validator, the URL and how the bytes are decoded, so that it
// changes with any of them and shows nothing of the backend. Without a
// strong source validator there is none (If-Range then falls back to
// Last-Modified).
func entityTag(fileURL, decoding, sourceETag string) string {
	if sourceETag == "" || len(sourceETag) >= 2 && sourceETag[:2] == "W/" {
		return ""
	}
	h := sha256.New()
	for _, s := range []string{"nvm-node file v1", fileURL, decoding, sourceETag} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return `"` + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18]) + `"`
}

func downloadError(err error) *Error {
	switch {
	case errors.Is(err, filecrypt.ErrCorrupt), errors.Is(err, filecrypt.ErrFormat):
		return &Error{Status: http.StatusBadGateway, Message: "the stored file does not decrypt with its password: it is damaged or not what the asset says", Cause: err}
	}
	return fetchError(err)
}

// copyBufPool holds the buffers downloads are copied through, so memory
// stays flat in file size and in the number of downloads over time.
var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// directChunk is how much of a local file is handed to the kernel between
// two write-deadline extensions (a minute each): small enough that a client
// on a slow link (down to about 9 KB/s) is not cut off, large enough that
// the calls cost nothing next to the copy.
const directChunk = 512 << 10

// send writes the answer's headers and streams d (only the headers for
// HEAD). Once the headers are out
// a failure can only cut the body short (the client sees fewer bytes than
// Content-Length says); it is logged.
func (s *server) send(w http.ResponseWriter, r *http.Request, d *download, buf []byte, f *asset.File, index int, did string) {
	ctx := r.Context()
	head := r.Method == http.MethodHead
	h := w.Header()
	ct := f.ContentType
	if ct == "" {
		ct = d.contentType
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	name := f.Name
	if name == "" && !d.decrypted {
		name = d.name
	}
	if name == "" {
		name = fmt.Sprintf("file-%d", index)
	}
	h.Set("Content-Disposition", contentDisposition(name))
	h.Set("Access-Control-Expose-Headers", "Content-Disposition, Content-Range, Accept-Ranges, ETag, Last-Modified")
	if d.ranges {
		h.Set("Accept-Ranges", "bytes")
	} else {
		h.Set("Accept-Ranges", "none")
	}
	if d.etag != "" {
		h.Set("ETag", d.etag)
	}
	if !d.modTime.IsZero() {
		h.Set("Last-Modified", d.modTime.UTC().Format(http.TimeFormat))
	}
	status := http.StatusOK
	if d.partial {
		status = http.StatusPartialContent
		total := "*"
		if d.size >= 0 {
			total = strconv.FormatInt(d.size, 10)
		}
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%s", d.off, d.off+d.n-1, total))
		h.Set("Content-Length", strconv.FormatInt(d.n, 10))
	} else if d.size >= 0 {
		h.Set("Content-Length", strconv.FormatInt(d.size, 10))
	}
	w.WriteHeader(status)
	if head {
		return
	}

	rc := http.NewResponseController(w)
	pw := progressWriter{w: w, rc: rc}
	var err error
	if len(d.first) > 0 {
		_, err = pw.Write(d.first)
	}
	if err == nil {
		rf, ok := w.(io.ReaderFrom)
		if d.direct != nil && ok {
			err = sendDirect(rc, rf, d.direct)
		} else {
			_, err = io.CopyBuffer(pw, d.body, buf)
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, filecrypt.ErrCorrupt), errors.Is(err, filecrypt.ErrFormat):
		s.log.ErrorContext(ctx, "encrypted file failed authentication mid-stream; download cut short", "did", did, "index", index, "error", err)
	default:
		s.log.WarnContext(ctx, "download interrupted", "did", did, "index", index, "error", err)
	}
}

// sendDirect lets the kernel copy a local file to the connection (sendfile
// through the server's ReadFrom), in chunks so the deadline moves on.
func sendDirect(rc *http.ResponseController, rf io.ReaderFrom, f *os.File) error {
	for {
		_ = rc.SetWriteDeadline(time.Now().Add(time.Minute))
		n, err := rf.ReadFrom(io.LimitReader(f, directChunk))
		if err != nil {
			return err
		}
		if n < directChunk {
			return nil
		}
	}
}

// readSome reads until it has some bytes or an error.
func readSome(r io.Reader, buf []byte) (int, error) {
	for {
		n, err := r.Read(buf)
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// progressWriter pushes the write deadline forward on every write: the
// server's write timeout bounds ordinary answers, and a download may take as
// long as it keeps making progress.
type progressWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (p progressWriter) Write(b []byte) (int, error) {
	_ = p.rc.SetWriteDeadline(time.Now().Add(time.Minute)) // not every writer supports deadlines
	return p.w.Write(b)
}
