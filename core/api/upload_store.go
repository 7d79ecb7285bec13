package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/nvm-node/nvm-node/core/filecrypt"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// putObject streams src into key, through filecrypt when password is set.
// It returns the plaintext bytes read, the error reading src (the client's
// body, usually) and the backend's error. On any error the key is deleted,
// in case the backend's Put is not as atomic as the storage contract says.
func (s *server) putObject(ctx context.Context, t UploadTarget, key string, src io.Reader, password, contentType string) (int64, error, error) {
	in := &sourceReader{r: src}
	var body io.Reader = in
	done := make(chan error, 1)
	var pr *io.PipeReader
	if password == "" {
		done <- nil
	} else {
		var pw *io.PipeWriter
		pr, pw = io.Pipe()
		enc, err := filecrypt.NewWriter(pw, password)
		if err != nil {
			return 0, nil, err
		}
		go func() {
			_, err := io.Copy(enc, in)
			if err == nil {
				err = enc.Close()
			}
			pw.CloseWithError(err) // nil: the backend sees EOF
			done <- err
		}()
		body = pr
		contentType = "application/octet-stream"
	}
	_, putErr := t.Backend.Put(ctx, key, body, storage.PutOptions{ContentType: contentType})
	if pr != nil {
		pr.CloseWithError(errPutReturned) // unblocks the encrypter if Put stopped early
	}
	encErr := <-done
	switch {
	case in.err != nil:
		s.discard(ctx, t, key)
		return in.n, in.err, nil
	case putErr != nil:
		s.discard(ctx, t, key)
		return in.n, nil, putErr
	case encErr != nil || !in.eof:
		s.discard(ctx, t, key)
		return in.n, nil, fmt.Errorf("the backend returned before reading all the data (%d bytes read): %w", in.n, errors.Join(encErr, errShortPut))
	}
	return in.n, nil, nil
}

var (
	errPutReturned = errors.New("storage Put returned")
	errShortPut    = errors.New("short Put")
)

// discard deletes key, best effort: after a failed Put there is usually
// nothing to delete.
func (s *server) discard(ctx context.Context, t UploadTarget, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := t.Backend.Delete(ctx, key); err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.log.WarnContext(ctx, "could not delete a failed upload's object", "key", key, "error", err)
	}
}

// sourceReader records how much of src was read, whether to its end, and
// the first error other than EOF.
type sourceReader struct {
	r   io.Reader
	n   int64
	eof bool
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	switch {
	case errors.Is(err, io.EOF):
		s.eof = true
	case err != nil && s.err == nil:
		s.err = err
	}
	return n, err
}

// bodyError answers a failure to read the request body.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	var e *Error
	switch {
	case errors.As(err, &mbe):
		return tooLarge(mbe.Limit)
	case errors.As(err, &e):
		return e
	}
	return &Error{Status: http.StatusBadRequest, Message: "the request body could not be read as multipart/form-data", Cause: err}
}

// backendError answers a storage backend's failure without its details,
// which may name buckets or hosts; they are logged.
func backendError(name string, err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, plugin.ErrUnavailable):
		return &Error{Status: http.StatusServiceUnavailable, Message: fmt.Sprintf("Backend %s is unavailable; retry later", name), Cause: err, RetryAfter: 5}
	case errors.Is(err, errors.ErrUnsupported):
		return &Error{Status: http.StatusNotImplemented, Message: fmt.Sprintf("Backend %s does not accept uploads", name), Cause: err}
	case errors.Is(err, storage.ErrInvalidKey):
		return &Error{Status: http.StatusBadRequest, Message: fmt.Sprintf("Backend %s does not accept this file name", name), Cause: err}
	}
	return &Error{Status: http.StatusBadGateway, Message: fmt.Sprintf("Upload to backend %s failed", name), Cause: err}
}

// fileKey is a fresh key that keeps the file's name readable:
// "<uuid>/<name>", the name reduced to letters, digits, '.', '-' and '_'
// so that prefix+key is a plain URL every client parses alike.
func fileKey(filename string) (string, error) {
	id, err := uuid.NewRandom()
	if err != nil {
		return "", err
	}
	return id.String() + "/" + safeName(filename), nil
}

// maxNameLen keeps keys well inside storage.MaxKeyLen and the usual
// 255-byte file name limits, with room for ".encrypted".
const maxNameLen = 200

func safeName(filename string) string {
	name := path.Base(strings.ReplaceAll(filename, "\\", "/"))
	var b strings.Builder
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	s := strings.TrimLeft(b.String(), ".")
	if len(s) > maxNameLen {
		ext := path.Ext(s)
		if len(ext) > 16 {
			ext = ""
		}
		s = s[:maxNameLen-len(ext)] + ext
	}
	if s == "" || strings.Trim(s, "_") == "" {
		return "file"
	}
	return s
}

// messageKey is the reference's name for a message upload.
func messageKey() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "fileUpload_" + hex.EncodeToString(b[:]) + ".data", nil
}
