// Package gcsstore is an nvm-node storage backend on Google Cloud Storage:
// the objects of one bucket, optionally under a name prefix, through
// cloud.google.com/go/storage's JSON API client.
//
// Reads are ranged (CapRange); writes stream through a resumable upload of
// bounded memory (one chunk per Put in flight) that is finalized only after
// the whole input was read, so a failed or cancelled Put leaves no object;
// IfAbsent is a server-side precondition (CapIfAbsent). Presign signs V4
// URLs when a service-account key is configured.
//
// The plugin binary in the parent folder serves it over rpcplugin, so the
// node never links Google's libraries.
package gcsstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	gcs "cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// Name is the backend's name: its plugin id is "storage.gcs".
const Name = "gcs"

// Version is the plugin's release version.
const Version = "v0.1.0"

// DefaultListLimit is the page size of List when the caller sets none.
const DefaultListLimit = 1000

// DefaultPresignExpiry is how long a presigned URL lasts when the caller
// sets no expiry; V4 URLs last at most 7 days.
const DefaultPresignExpiry = 15 * time.Minute

// state of a Backend's lifecycle.
type state int

const (
	stateNew state = iota
	stateReady
	stateFailed
	stateClosed
)

// Backend is the GCS storage backend. The zero value is not usable; call
// New.
type Backend struct {
	log *slog.Logger

	mu     sync.RWMutex
	state  state
	cfg    Config
	client *gcs.Client
	bucket *gcs.BucketHandle
	signer *signer
	// emulatorHost is the STORAGE_EMULATOR_HOST seen at Configure.
	emulatorHost string
}

// New returns an unconfigured backend logging to log (nil means
// slog.Default()).
func New(log *slog.Logger) *Backend {
	if log == nil {
		log = slog.Default()
	}
	return &Backend{log: log}
}

var (
	_ storage.Backend   = (*Backend)(nil)
	_ storage.Presigner = (*Backend)(nil)
)

// Info describes the backend. It declares storage.CapPresign only once a
// Configure has loaded a service-account key, since only then can it
// sign; everything else is fixed. Hosts read Info again after Configure
// (package plugin), so the process runtime sees the capability.
func (b *Backend) Info(context.Context) (plugin.Info, error) {
	caps := []plugin.Capability{
		storage.CapRange, storage.CapWrite, storage.CapList, storage.CapIfAbsent, storage.CapContentType,
	}
	b.mu.RLock()
	if b.state == stateReady && b.signer != nil {
		caps = append(caps, storage.CapPresign)
	}
	b.mu.RUnlock()
	return plugin.Info{Kind: plugin.KindStorage, Name: Name, Version: Version, APIVersion: storage.APIVersion, Capabilities: caps}, nil
}

// Configure parses the configuration (see Config), builds the client and,
// with create_bucket, creates the bucket.
func (b *Backend) Configure(ctx context.Context, raw plugin.Config) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case stateClosed:
		return plugin.ErrClosed
	case stateReady, stateFailed:
		return errors.New("gcs: Configure called twice")
	}
	b.state = stateFailed
	cfg, err := parseConfig(raw)
	if err != nil {
		return err
	}
	b.emulatorHost = os.Getenv("STORAGE_EMULATOR_HOST")
	opts := []option.ClientOption{gcs.WithJSONReads()}
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(cfg.Endpoint))
	}
	credsMode := "application default credentials"
	switch {
	case cfg.CredentialsFile != "":
		creds, err := loadCredentials(cfg.CredentialsFile)
		if err != nil {
			return fmt.Errorf("%w: %w", plugin.ErrInvalidConfig, err)
		}
		opts = append(opts, option.WithAuthCredentialsJSON(creds.credType, creds.json))
		b.signer = creds.signer
		credsMode = "credentials_file (" + string(creds.credType) + ")"
	case (cfg.Endpoint != "" || b.emulatorHost != "") && os.Getenv("GOOGLE_APPLICATION_CREDENTIALS") == "":
		// An emulator wants no credentials, and looking for ADC would
		// fail or, on a cloud VM, pick up the VM's.
		opts = append(opts, option.WithoutAuthentication())
		credsMode = "none (emulator or endpoint without credentials)"
	default:
		// ADC from a file the operator granted: only that file can sign.
		if path := os.Getenv("GOOGLE_APPLICATION_CREDENTIALS"); path != "" {
			if creds, err := loadCredentials(path); err == nil {
				b.signer = creds.signer
			} else {
				b.log.Warn("GOOGLE_APPLICATION_CREDENTIALS unreadable for signing; presign disabled", "err", err)
			}
		}
	}
	client, err := gcs.NewClient(ctx, opts...)
	if err != nil {
		return fmt.Errorf("gcs: creating client: %w", err)
	}
	bucket := client.Bucket(cfg.Bucket)
	if cfg.CreateBucket {
		err := bucket.Create(ctx, cfg.ProjectID, nil)
		var ge *googleapi.Error
		if err != nil && !(errors.As(err, &ge) && ge.Code == http.StatusConflict) {
			client.Close()
			return fmt.Errorf("gcs: creating bucket %q: %w", cfg.Bucket, mapErr(err, false))
		}
	}
	b.cfg, b.client, b.bucket, b.state = cfg, client, bucket, stateReady
	endpoint := cfg.Endpoint
	if endpoint == "" && b.emulatorHost != "" {
		endpoint = "STORAGE_EMULATOR_HOST=" + b.emulatorHost
	}
	b.log.Info("gcs storage configured", "bucket", cfg.Bucket, "prefix", cfg.Prefix, "endpoint", endpoint,
		"credentials", credsMode, "can_presign", b.signer != nil, "chunk_size", int64(cfg.ChunkSize))
	return nil
}

// Close closes the client. Calls in flight may fail; later calls return
// plugin.ErrClosed.
func (b *Backend) Close(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == stateClosed {
		return nil
	}
	b.state = stateClosed
	if b.client != nil {
		if err := b.client.Close(); err != nil {
			return fmt.Errorf("gcs: closing client: %w", err)
		}
	}
	return nil
}

// handle is what one call needs, taken under the lock.
type handle struct {
	cfg    *Config
	bucket *gcs.BucketHandle
	signer *signer
	host   string
}

// use checks the lifecycle and the key, and returns the object name.
func (b *Backend) use(op, key string, checkKey bool) (handle, string, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	fail := func(err error) (handle, string, error) {
		return handle{}, "", &storage.Error{Op: op, Key: key, Err: err}
	}
	switch b.state {
	case stateClosed:
		return fail(plugin.ErrClosed)
	case stateNew, stateFailed:
		return fail(plugin.ErrNotConfigured)
	}
	h := handle{cfg: &b.cfg, bucket: b.bucket, signer: b.signer, host: b.emulatorHost}
	if !checkKey {
		return h, "", nil
	}
	name, ok := b.cfg.objectName(key)
	if !ok {
		return fail(storage.ErrInvalidKey)
	}
	return h, name, nil
}

// info converts object attributes. The ETag is the generation, which GCS
// changes on every write of the object and which reads and writes both
// report (the JSON etag is absent from a read's attributes). ModTime is cut
// to seconds: a read learns it from the Last-Modified header, and Get, Put,
// Stat and List must agree.
func (h handle) info(name string, size int64, contentType string, gen int64, mod time.Time) storage.ObjectInfo {
	return storage.ObjectInfo{
		Key:         strings.TrimPrefix(name, h.cfg.Prefix),
		Size:        size,
		ContentType: contentType,
		ETag:        `"` + strconv.FormatInt(gen, 10) + `"`,
		ModTime:     mod.UTC().Truncate(time.Second),
	}
}

func (h handle) attrsInfo(a *gcs.ObjectAttrs) storage.ObjectInfo {
	return h.info(a.Name, a.Size, a.ContentType, a.Generation, a.Updated)
}

// mapErr wraps err with the storage sentinel its status means. ifAbsent
// says a 412 came from Put's IfAbsent precondition.
func mapErr(err error, ifAbsent bool) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, gcs.ErrObjectNotExist) || errors.Is(err, gcs.ErrBucketNotExist) {
		return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		switch ge.Code {
		case http.StatusNotFound:
			return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%w: %w", storage.ErrPermission, err)
		case http.StatusPreconditionFailed:
			if ifAbsent {
				return fmt.Errorf("%w: %w", storage.ErrExist, err)
			}
		case http.StatusRequestedRangeNotSatisfiable:
			return fmt.Errorf("%w: %w", storage.ErrInvalidRange, err)
		}
	}
	return err
}

// ctxErr prefers the context's error: a cancelled call surfaces through
// the client as whatever its transport saw first.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

func is416(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusRequestedRangeNotSatisfiable
}

// Get opens the object or a range of it. The reader lives on after ctx is
// done, until it is closed.
func (b *Backend) Get(ctx context.Context, key string, opts storage.GetOptions) (io.ReadCloser, storage.ObjectInfo, error) {
	h, name, err := b.use("get", key, true)
	if err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	fail := func(err error) (io.ReadCloser, storage.ObjectInfo, error) {
		return nil, storage.ObjectInfo{}, &storage.Error{Op: "get", Key: key, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	off, length := int64(0), int64(-1)
	if r := opts.Range; r != nil {
		if r.Offset < 0 || r.Length == 0 {
			return fail(storage.ErrInvalidRange)
		}
		off = r.Offset
		if r.Length > 0 {
			length = r.Length
		}
	}
	// The body is read after Get returns, so the request runs under a
	// context that ctx cancels only until the response has arrived.
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	rd, err := h.bucket.Object(name).NewRangeReader(rctx, off, length)
	if !stop() {
		if rd != nil {
			rd.Close()
		}
		cancel()
		return fail(ctx.Err())
	}
	if err != nil {
		cancel()
		if is416(err) && off == 0 {
			// A bounded range of an empty object: GCS refuses it, the
			// storage contract serves it empty.
			if a, serr := h.bucket.Object(name).Attrs(ctx); serr == nil && a.Size == 0 {
				return io.NopCloser(strings.NewReader("")), h.attrsInfo(a), nil
			}
		}
		return fail(mapErr(ctxErr(ctx, err), false))
	}
	a := rd.Attrs
	if r := opts.Range; r != nil {
		if _, _, err := r.Resolve(a.Size); err != nil {
			rd.Close()
			cancel()
			return fail(err)
		}
	}
	return &reader{Reader: rd, cancel: cancel}, h.info(name, a.Size, a.ContentType, a.Generation, a.LastModified), nil
}

// reader ends the read's context when closed.
type reader struct {
	*gcs.Reader
	cancel context.CancelFunc
}

func (r *reader) Close() error {
	err := r.Reader.Close()
	r.cancel()
	return err
}

// copyBufSize is the size of the writes handed to the upload; the upload
// itself buffers one chunk.
const copyBufSize = 256 << 10

// Put streams r into a resumable upload. The upload is finalized only when
// r has ended and the writer is closed; on any earlier failure the upload's
// context is cancelled first, so GCS never commits a partial object.
func (b *Backend) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	h, name, err := b.use("put", key, true)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	fail := func(err error) (storage.ObjectInfo, error) {
		return storage.ObjectInfo{}, &storage.Error{Op: "put", Key: key, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	obj := h.bucket.Object(name)
	if opts.IfAbsent {
		obj = obj.If(gcs.Conditions{DoesNotExist: true})
	}
	w := obj.NewWriter(wctx)
	w.ChunkSize = int(h.cfg.ChunkSize)
	w.ContentType = opts.ContentType
	if _, err := io.CopyBuffer(w, onlyReader{r}, make([]byte, copyBufSize)); err != nil {
		// Cancel before anything can close the pipe with EOF: the upload
		// then fails instead of committing what it has.
		cancel()
		w.CloseWithError(err) // deprecated in favour of cancelling, done above; it also unblocks the upload at once
		w.Close()             // waits for the upload goroutine; its error is the cancellation
		return fail(mapErr(ctxErr(ctx, err), opts.IfAbsent))
	}
	if err := w.Close(); err != nil {
		return fail(mapErr(ctxErr(ctx, err), opts.IfAbsent))
	}
	return h.attrsInfo(w.Attrs()), nil
}

// onlyReader hides a WriterTo (strings.Reader, bytes.Reader...), so the
// copy goes through the bounded buffer whatever the source.
type onlyReader struct{ io.Reader }

// Stat returns the object's info.
func (b *Backend) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	h, name, err := b.use("stat", key, true)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	a, err := h.bucket.Object(name).Attrs(ctx)
	if err != nil {
		return storage.ObjectInfo{}, &storage.Error{Op: "stat", Key: key, Err: mapErr(ctxErr(ctx, err), false)}
	}
	return h.attrsInfo(a), nil
}

// Delete removes the object.
func (b *Backend) Delete(ctx context.Context, key string) error {
	h, name, err := b.use("delete", key, true)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return &storage.Error{Op: "delete", Key: key, Err: err}
	}
	if err := h.bucket.Object(name).Delete(ctx); err != nil {
		return &storage.Error{Op: "delete", Key: key, Err: mapErr(ctxErr(ctx, err), false)}
	}
	return nil
}

// List returns a page of objects in key order (GCS lists names in
// lexicographic byte order, and the prefix is common to all names).
func (b *Backend) List(ctx context.Context, opts storage.ListOptions) (storage.ListPage, error) {
	h, _, err := b.use("list", opts.Prefix, false)
	if err != nil {
		return storage.ListPage{}, err
	}
	fail := func(err error) (storage.ListPage, error) {
		return storage.ListPage{}, &storage.Error{Op: "list", Key: opts.Prefix, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	limit := opts.Limit
	if limit <= 0 || limit > DefaultListLimit {
		limit = DefaultListLimit
	}
	q := &gcs.Query{Prefix: h.cfg.Prefix + opts.Prefix}
	if opts.After != "" {
		// StartOffset is inclusive; the key equal to After is skipped below.
		q.StartOffset = h.cfg.Prefix + opts.After
	}
	if err := q.SetAttrSelection([]string{"Name", "Size", "ContentType", "Generation", "Updated"}); err != nil {
		return fail(err)
	}
	it := h.bucket.Objects(ctx, q)
	// One more than the page, so the last page is known without another
	// request.
	it.PageInfo().MaxSize = limit + 1
	var page storage.ListPage
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return page, nil
		}
		if err != nil {
			return fail(mapErr(ctxErr(ctx, err), false))
		}
		oi := h.attrsInfo(a)
		if opts.After != "" && oi.Key <= opts.After {
			continue
		}
		if len(page.Objects) == limit {
			page.Next = page.Objects[limit-1].Key
			return page, nil
		}
		page.Objects = append(page.Objects, oi)
	}
}

// maxPresign is the longest validity of a V4 signed URL.
const maxPresign = 7 * 24 * time.Hour

// Presign returns a V4 signed URL for a GET or PUT of key, valid for
// opts.Expires (zero means DefaultPresignExpiry). It needs a service-account key (credentials_file, or a
// GOOGLE_APPLICATION_CREDENTIALS file); without one it returns an error
// wrapping errors.ErrUnsupported. The object need not exist.
func (b *Backend) Presign(ctx context.Context, key string, opts storage.PresignOptions) (string, error) {
	h, name, err := b.use("presign", key, true)
	if err != nil {
		return "", err
	}
	fail := func(err error) (string, error) { return "", &storage.Error{Op: "presign", Key: key, Err: err} }
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if h.signer == nil {
		return fail(fmt.Errorf("%w: presigning needs a service-account key (credentials_file)", errors.ErrUnsupported))
	}
	method := strings.ToUpper(opts.Method)
	if method != http.MethodGet && method != http.MethodPut {
		return fail(fmt.Errorf("presign method %q (only GET and PUT): %w", opts.Method, errors.ErrUnsupported))
	}
	expires := opts.Expires
	if expires == 0 {
		expires = DefaultPresignExpiry
	}
	if expires < 0 || expires > maxPresign {
		return fail(fmt.Errorf("presign expiry %v: want up to %v", opts.Expires, maxPresign))
	}
	so := &gcs.SignedURLOptions{
		GoogleAccessID: h.signer.email,
		PrivateKey:     h.signer.key,
		Method:         method,
		Expires:        time.Now().Add(expires),
		Scheme:         gcs.SigningSchemeV4,
		Style:          gcs.PathStyle(),
	}
	if host, insecure := h.signingHost(); host != "" {
		so.Hostname, so.Insecure = host, insecure
	}
	u, err := gcs.SignedURL(h.cfg.Bucket, name, so)
	if err != nil {
		// The library's errors name no key material.
		return fail(fmt.Errorf("signing: %w", err))
	}
	return u, nil
}

// signingHost is the host URLs are signed for when it is not GCS's own:
// the configured endpoint or emulator.
func (h handle) signingHost() (host string, insecure bool) {
	switch {
	case h.cfg.Endpoint != "":
		rest, isHTTP := strings.CutPrefix(h.cfg.Endpoint, "http://")
		if !isHTTP {
			rest = strings.TrimPrefix(h.cfg.Endpoint, "https://")
		}
		host, _, _ = strings.Cut(rest, "/")
		return host, isHTTP
	case h.host != "":
		rest, isHTTPS := strings.CutPrefix(h.host, "https://")
		rest = strings.TrimPrefix(rest, "http://")
		host, _, _ = strings.Cut(rest, "/")
		return host, !isHTTPS
	}
	return "", false
}
