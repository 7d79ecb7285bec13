package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nvm-node/nvm-node/core/auth"
	"github.com/nvm-node/nvm-node/core/filecrypt"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// uploadPath is the route of uploads; its body limit is UploadConfig's,
// not the node's ordinary one.
const uploadPath = "/api/v1/node/services/upload/"

const (
	// defaultUploadIdle is UploadConfig.IdleTimeout's default.
	defaultUploadIdle = time.Minute
	// maxUploadParts bounds the parts of a multipart upload: a file, a
	// message, encrypt, and a few fields clients add.
	maxUploadParts = 32
)

// UploadTarget is a storage backend uploads may go to.
type UploadTarget struct {
	Backend storage.Backend
	// URLPrefix is the plugin's first URL prefix (plugins.yaml urls:); the
	// answer's url is URLPrefix + key.
	URLPrefix string
	// Writable says the backend declared storage.CapWrite; uploads to
	// others are refused up front.
	Writable bool
}

// UploadConfig configures POST /api/v1/node/services/upload/{backend}.
type UploadConfig struct {
	// Targets are the storage plugins by name ("s3" for storage.s3).
	// Other names answer 400 "Backend <x> not supported".
	Targets map[string]UploadTarget
	// MaxBytes caps an upload's request body. Required when Targets is
	// not empty.
	MaxBytes int64
	// RequireLogin demands a bearer token issued by this node (any
	// audience, a plain login will do); the reference leaves uploads
	// public, and so does the default.
	RequireLogin bool
	// Uploaders, when not empty, are the only addresses (token issuers)
	// that may upload. Only with RequireLogin.
	Uploaders []common.Address
	// IdleTimeout is how long an upload may go without progress before its
	// connection is cut; the server's read and write timeouts do not apply
	// to uploads. Zero means one minute.
	IdleTimeout time.Duration
}

func (c UploadConfig) validate() error {
	if len(c.Targets) > 0 && c.MaxBytes <= 0 {
		return errors.New("api: Upload.MaxBytes is required with upload targets")
	}
	if len(c.Uploaders) > 0 && !c.RequireLogin {
		return errors.New("api: Upload.Uploaders needs Upload.RequireLogin")
	}
	for name, t := range c.Targets {
		if t.Backend == nil || t.URLPrefix == "" {
			return fmt.Errorf("api: upload target %q needs a backend and a URL prefix", name)
		}
	}
	return nil
}

// uploadMetrics count what uploads store. Backend labels are configured
// plugin names only, never what a client put in the path.
type uploadMetrics struct {
	bytes       *prometheus.CounterVec
	uploads     *prometheus.CounterVec
	conversions *prometheus.CounterVec
}

func newUploadMetrics(reg prometheus.Registerer) *uploadMetrics {
	m := &uploadMetrics{
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "nvm", Subsystem: "upload", Name: "bytes_total",
			Help: "Plaintext bytes stored by uploads, by storage backend and whether they were encrypted.",
		}, []string{"backend", "encrypted"}),
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "nvm", Subsystem: "upload", Name: "objects_total",
			Help: "Uploads by storage backend and result (stored, failed).",
		}, []string{"backend", "result"}),
		conversions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "nvm", Subsystem: "upload", Name: "rewrites_total",
			Help: "Large files stored encrypted before the request said not to encrypt, then rewritten as plaintext.",
		}, []string{"backend"}),
	}
	reg.MustRegister(m.bytes, m.uploads, m.conversions)
	return m
}

// exceptUploads applies mw to every request but uploads, whose body limit
// postUpload applies itself.
func exceptUploads(mw func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		limited := mw(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, uploadPath) {
				next.ServeHTTP(w, r)
				return
			}
			limited.ServeHTTP(w, r)
		})
	}
}

// uploadResult is the answer to an upload.
type uploadResult struct {
	URL      string `json:"url"`
	Password string `json:"password,omitempty"`
}

// stored describes what an upload stored, for the answer and the log.
type stored struct {
	key       string
	password  string
	size      int64
	rewritten bool
}

// postUpload stores a file or a message in a storage plugin, encrypted
// with a fresh password (nvm-aead-v1) when the request asks for it
// (SPEC 2.10, with its bugs fixed). The body is streamed into the backend:
// nothing beyond max_body_bytes is held in memory or written to local disk.
func (s *server) postUpload(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	start := time.Now()
	name := chi.URLParam(r, "backend")
	if err := s.authorizeUpload(r); err != nil {
		s.fail(w, r, err)
		return
	}
	target, ok := s.cfg.Upload.Targets[name]
	if !ok {
		s.fail(w, r, badRequest(fmt.Sprintf("Backend %s not supported", name)))
		return
	}
	if !target.Writable {
		s.fail(w, r, &Error{Status: http.StatusNotImplemented, Message: fmt.Sprintf("Backend %s is read-only: it does not accept uploads", name)})
		return
	}
	limit := s.cfg.Upload.MaxBytes
	if r.ContentLength > limit {
		s.fail(w, r, tooLarge(limit))
		return
	}
	idle := s.cfg.Upload.IdleTimeout
	if idle <= 0 {
		idle = defaultUploadIdle
	}
	conn := newUploadConn(w, idle)
	r.Body = http.MaxBytesReader(w, &progressBody{ReadCloser: r.Body, conn: conn}, limit)

	u := &upload{s: s, target: target, backend: name}
	err := u.run(ctx, r)
	var res *stored
	if err == nil {
		res, err = u.finish(ctx)
	}
	if err != nil {
		u.discardAll(ctx)
		s.up.uploads.WithLabelValues(name, "failed").Inc()
		conn.answering()
		s.fail(w, r, err)
		return
	}
	encrypted := res.password != ""
	s.up.uploads.WithLabelValues(name, "stored").Inc()
	s.up.bytes.WithLabelValues(name, fmt.Sprint(encrypted)).Add(float64(res.size))
	if res.rewritten {
		s.up.conversions.WithLabelValues(name).Inc()
	}
	// The password is as secret as the data: it is answered, never logged.
	s.log.LogAttrs(ctx, slog.LevelInfo, "upload stored",
		slog.String("backend", name), slog.String("key", res.key), slog.Int64("bytes", res.size),
		slog.Bool("encrypted", encrypted), slog.Bool("rewritten", res.rewritten), slog.Duration("duration", time.Since(start)))
	conn.answering()
	writeJSON(w, http.StatusCreated, uploadResult{URL: target.URLPrefix + res.key, Password: res.password})
}

// authorizeUpload applies the upload access setting.
func (s *server) authorizeUpload(r *http.Request) error {
	if !s.cfg.Upload.RequireLogin {
		return nil
	}
	bearer, ok := bearerToken(r)
	if !ok {
		return unauthorized(errors.New("no bearer token"))
	}
	grant, err := s.cfg.Tokens.Verify(bearer, auth.Require{AnyAudience: true})
	if err != nil {
		return unauthorized(err)
	}
	if len(s.cfg.Upload.Uploaders) > 0 && !slices.Contains(s.cfg.Upload.Uploaders, grant.Grantee) {
		return &Error{Status: http.StatusForbidden, Message: "this address may not upload to this node"}
	}
	return nil
}

// upload is one upload request in progress.
type upload struct {
	s       *server
	target  UploadTarget
	backend string

	encrypt  *bool   // nil until the request says
	message  *string // a message field, held in memory (bounded)
	sawFile  bool
	fileKey  string // the file's key without ".encrypted"
	fileType string // the file part's content type
	// A file that arrived before encrypt is either held in memory, when
	// it fits in max_body_bytes, or stored encrypted under specKey with
	// specPassword until the request says whether to keep it so.
	pending      []byte
	specKey      string
	specPassword string
	specSize     int64
	result       *stored
	// keys stored so far, deleted if the upload fails.
	keys []string
}

// run reads the request body, storing a file part as it streams by.
func (u *upload) run(ctx context.Context, r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case err != nil && r.Header.Get("Content-Type") != "":
		return &Error{Status: http.StatusUnsupportedMediaType, Message: "Content-Type is not a valid media type"}
	case mt == "multipart/form-data":
		return u.readMultipart(ctx, r)
	case isJSON(mt) || isForm(mt):
		// Fields are held in memory, so they get the ordinary limit.
		r.Body = http.MaxBytesReader(nil, r.Body, u.s.cfg.MaxBodyBytes)
		f, err := readFields(r)
		if err != nil {
			return err
		}
		if v, ok := f["message"]; ok && v != nil {
			msg, ok := v.(string)
			if !ok {
				return badRequest([]string{"message must be a string"})
			}
			u.message = &msg
		}
		enc, err := parseEncrypt(f["encrypt"])
		if err != nil {
			return err
		}
		u.encrypt = &enc
		return nil
	default:
		return &Error{Status: http.StatusUnsupportedMediaType, Message: "send multipart/form-data (a file part or a message field) or application/json {message, encrypt}"}
	}
}

// readMultipart streams the parts of a multipart/form-data body. The
// encrypt field may come after the file (the SDK sends it last), so a file
// is stored directly only when encrypt came first; see storeFile.
func (u *upload) readMultipart(ctx context.Context, r *http.Request) error {
	mr, err := r.MultipartReader()
	if err != nil {
		return badRequest("malformed multipart body: " + err.Error())
	}
	for parts := 0; ; parts++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return bodyError(err)
		}
		if parts >= maxUploadParts {
			return badRequest(fmt.Sprintf("a multipart upload has at most %d parts", maxUploadParts))
		}
		switch p.FormName() {
		case "file":
			if u.sawFile {
				return badRequest("send one file per upload")
			}
			u.sawFile = true
			err = u.storeFile(ctx, p)
		case "encrypt":
			if u.encrypt != nil {
				err = badRequest([]string{"encrypt must be given once"})
				break
			}
			var v string
			if v, err = readPart(p, 64); err == nil {
				var enc bool
				enc, err = parseEncrypt(v)
				u.encrypt = &enc
			}
		case "message":
			var v string
			if v, err = u.readHeldPart(ctx, p); err == nil {
				u.message = &v
			}
		default:
			if p.FileName() != "" {
				// As multer answers a file under another field name.
				err = badRequest(fmt.Sprintf("Unexpected field %q: the file goes in the part named \"file\"", p.FormName()))
				break
			}
			_, err = u.readHeldPart(ctx, p) // other fields are ignored, as the reference does
		}
		p.Close()
		if err != nil {
			return err
		}
	}
}

// storeFile handles the file part. When encrypt is known, the part streams
// straight into the backend. When it is not (yet), a file that fits in
// max_body_bytes is held until the end of the body; a larger one is
// stored encrypted, since that is safe whatever encrypt turns out to be,
// and rewritten as plaintext if the request ends up not asking for
// encryption. Storing plaintext first and encrypting later would put the
// plaintext on a backend (IPFS: for good) that the client wanted kept from
// it; refusing encrypt-after-file would break the SDK, which sends it last.
func (u *upload) storeFile(ctx context.Context, p *multipart.Part) error {
	key, err := fileKey(p.FileName())
	if err != nil {
		return err
	}
	u.fileKey = key
	u.fileType = partContentType(p)
	if u.encrypt != nil {
		res, err := u.put(ctx, key, p, *u.encrypt, u.fileType)
		u.result = res
		return err
	}
	// What is held comes from the node-wide upload buffer budget; when that
	// is used up the file streams on, as a large one does.
	head, fits, err := u.s.readHeld(ctx, p, u.s.cfg.MaxBodyBytes)
	if err != nil && !errors.Is(err, errBudget) {
		return bodyError(err)
	}
	if fits {
		u.pending = head
		return nil
	}
	password, err := filecrypt.NewPassword()
	if err != nil {
		return err
	}
	u.specKey, u.specPassword = key+".encrypted", password
	size, srcErr, putErr := u.s.putObject(ctx, u.target, u.specKey, io.MultiReader(bytes.NewReader(head), p), password, "")
	u.specSize = size
	return u.putError(u.specKey, srcErr, putErr)
}

// finish stores what the body held once it is complete, and answers.
func (u *upload) finish(ctx context.Context) (*stored, error) {
	encrypt := u.encrypt != nil && *u.encrypt
	switch {
	case u.result != nil:
		return u.result, nil
	case u.specKey != "" && encrypt:
		return &stored{key: u.specKey, password: u.specPassword, size: u.specSize}, nil
	case u.specKey != "":
		res, err := u.rewritePlain(ctx)
		if err != nil {
			return nil, err
		}
		res.rewritten = true
		return res, nil
	case u.sawFile:
		return u.put(ctx, u.fileKey, bytes.NewReader(u.pending), encrypt, u.fileType)
	case u.message != nil && *u.message != "":
		key, err := messageKey()
		if err != nil {
			return nil, err
		}
		return u.put(ctx, key, strings.NewReader(*u.message), encrypt, "text/plain; charset=utf-8")
	default:
		return nil, badRequest("No file or message in request")
	}
}

// put stores src under key (plus ".encrypted" and with a fresh password
// when encrypting).
func (u *upload) put(ctx context.Context, key string, src io.Reader, encrypt bool, contentType string) (*stored, error) {
	var password string
	if encrypt {
		var err error
		if password, err = filecrypt.NewPassword(); err != nil {
			return nil, err
		}
		key += ".encrypted"
	}
	size, srcErr, putErr := u.s.putObject(ctx, u.target, key, src, password, contentType)
	if err := u.putError(key, srcErr, putErr); err != nil {
		return nil, err
	}
	return &stored{key: key, password: password, size: size}, nil
}

// putError records key for cleanup and turns putObject's errors into
// answers: the client's body failing first, as the backend's error then
// only echoes it.
func (u *upload) putError(key string, srcErr, putErr error) error {
	u.keys = append(u.keys, key)
	switch {
	case srcErr != nil:
		return bodyError(srcErr)
	case putErr != nil:
		return backendError(u.backend, putErr)
	}
	return nil
}

// rewritePlain turns the speculatively encrypted file into the plaintext
// object the request asked for, then deletes the encrypted one.
func (u *upload) rewritePlain(ctx context.Context) (*stored, error) {
	rc, _, err := u.target.Backend.Get(ctx, u.specKey, storage.GetOptions{})
	if err != nil {
		return nil, backendError(u.backend, err)
	}
	defer rc.Close()
	plain, err := filecrypt.NewReader(rc, u.specPassword)
	if err != nil {
		return nil, backendError(u.backend, fmt.Errorf("reading back %s: %w", u.specKey, err))
	}
	size, srcErr, putErr := u.s.putObject(ctx, u.target, u.fileKey, plain, "", u.fileType)
	u.keys = append(u.keys, u.fileKey)
	if err := errors.Join(srcErr, putErr); err != nil {
		return nil, backendError(u.backend, fmt.Errorf("rewriting %s as plaintext: %w", u.fileKey, err))
	}
	u.s.discard(ctx, u.target, u.specKey)
	return &stored{key: u.fileKey, size: size}, nil
}

// discardAll deletes what a failed upload stored.
func (u *upload) discardAll(ctx context.Context) {
	for _, k := range u.keys {
		u.s.discard(ctx, u.target, k)
	}
}

// parseEncrypt reads the encrypt field. Only true, "true" and "1" (and
// their false counterparts) are accepted: the reference encrypted on any
// truthy value, including the string "false" (SPEC 2.10 BUG), and a value
// such as "yes" is refused rather than guessed.
func parseEncrypt(v any) (bool, error) {
	switch v := v.(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case json.Number:
		switch v.String() {
		case "1":
			return true, nil
		case "0":
			return false, nil
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "1":
			return true, nil
		case "false", "0", "":
			return false, nil
		}
	}
	return false, badRequest([]string{"encrypt must be true or false"})
}

// readPart reads a text field of at most limit bytes.
func readPart(p *multipart.Part, limit int64) (string, error) {
	b, err := io.ReadAll(io.LimitReader(p, limit+1))
	if err != nil {
		return "", bodyError(err)
	}
	if int64(len(b)) > limit {
		return "", &Error{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("field %q is larger than %d bytes", p.FormName(), limit)}
	}
	return string(b), nil
}

// partContentType is the file part's declared type, when it is one.
func partContentType(p *multipart.Part) string {
	ct := p.Header.Get("Content-Type")
	if _, _, err := mime.ParseMediaType(ct); err != nil {
		return "application/octet-stream"
	}
	return ct
}
