// Package localstorage is the storage backend "storage.local": objects are
// regular files under one directory of the local filesystem.
//
// Every file operation goes through an os.Root opened on that directory, so
// no key, symlink or race can reach a file outside it; keys are also
// validated with storage.ValidKey before use. Put writes to a temporary file
// in a reserved directory (".nvm-tmp", which is never listed and cannot be
// used as a key) and renames it into place, so readers never see a partial
// object and a failed Put leaves nothing behind.
//
// The filesystem keeps no content type, so Info does not declare
// storage.CapContentType; Get and Stat infer one from the key's extension.
// Empty directories left by Delete are removed on a best-effort basis.
package localstorage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// Name is the backend's name; its plugin id is "storage.local".
const Name = "local"

// tmpDir holds Put's temporary files inside the root.
const tmpDir = ".nvm-tmp"

// DefaultListLimit is the page size of List when ListOptions.Limit is zero.
const DefaultListLimit = 1000

// Config is the backend's configuration.
type Config struct {
	// Root is the directory holding the objects. Required.
	Root string `json:"root"`
	// Create makes Configure create Root (and its parents) if missing.
	Create bool `json:"create"`
	// NoSync skips fsync before Put's rename: faster, but a power loss may
	// leave an empty or partial object. For tests and caches only.
	NoSync bool `json:"noSync"`
	// ReadOnly serves the folder without ever writing to it: Put and Delete
	// fail with errors.ErrUnsupported and storage.write is not declared, so
	// the node refuses uploads to it. For a dataset folder an operator
	// publishes from.
	ReadOnly bool `json:"read_only"`
}

// Backend is the local filesystem storage.Backend. Call New, then Configure.
type Backend struct {
	mu     sync.RWMutex
	root   *os.Root
	cfg    Config
	closed bool
}

var _ storage.Backend = (*Backend)(nil)

// New returns an unconfigured backend.
func New() *Backend { return &Backend{} }

// Info implements plugin.Plugin.
func (b *Backend) Info(context.Context) (plugin.Info, error) {
	caps := []plugin.Capability{storage.CapRange, storage.CapWrite, storage.CapList, storage.CapIfAbsent}
	b.mu.RLock()
	if b.cfg.ReadOnly {
		caps = []plugin.Capability{storage.CapRange, storage.CapList}
	}
	b.mu.RUnlock()
	return plugin.Info{
		Kind: plugin.KindStorage, Name: Name, Version: "v0.1.0", APIVersion: storage.APIVersion,
		Capabilities: caps,
	}, nil
}

// readOnly reports whether the backend was configured read-only.
func (b *Backend) readOnly() bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.cfg.ReadOnly
}

// Configure implements plugin.Plugin.
func (b *Backend) Configure(_ context.Context, raw plugin.Config) error {
	var cfg Config
	if err := raw.Decode(&cfg); err != nil {
		return err
	}
	if cfg.Root == "" {
		return fmt.Errorf("%w: root is required", plugin.ErrInvalidConfig)
	}
	if cfg.Create && !cfg.ReadOnly {
		if err := os.MkdirAll(cfg.Root, 0o750); err != nil {
			return fmt.Errorf("%w: creating root: %w", plugin.ErrInvalidConfig, err)
		}
	}
	root, err := os.OpenRoot(cfg.Root)
	if err != nil {
		return fmt.Errorf("%w: opening root: %w", plugin.ErrInvalidConfig, err)
	}
	if !cfg.ReadOnly {
		if err := root.MkdirAll(tmpDir, 0o700); err != nil {
			root.Close()
			return fmt.Errorf("%w: creating %s in root: %w", plugin.ErrInvalidConfig, tmpDir, err)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		root.Close()
		return plugin.ErrClosed
	}
	if b.root != nil {
		b.root.Close()
	}
	b.root, b.cfg = root, cfg
	return nil
}

// Close implements plugin.Plugin. Readers returned by Get keep working.
func (b *Backend) Close(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if b.root != nil {
		return b.root.Close()
	}
	return nil
}

// withRoot runs fn with the root held open; fn must be short, since Close
// waits for it.
func (b *Backend) withRoot(fn func(*os.Root) error) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	switch {
	case b.closed:
		return plugin.ErrClosed
	case b.root == nil:
		return plugin.ErrNotConfigured
	}
	return fn(b.root)
}

func validate(ctx context.Context, op, key string) error {
	if err := ctx.Err(); err != nil {
		return &storage.Error{Op: op, Key: key, Err: err}
	}
	if !storage.ValidKey(key) || key == tmpDir || strings.HasPrefix(key, tmpDir+"/") {
		return &storage.Error{Op: op, Key: key, Err: storage.ErrInvalidKey}
	}
	return nil
}

// mapErr turns filesystem errors into storage sentinels, keeping the
// original in the chain for the message.
func mapErr(err error) error {
	var sentinel error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, plugin.ErrClosed), errors.Is(err, plugin.ErrNotConfigured):
		return err
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		sentinel = storage.ErrNotFound
	case errors.Is(err, fs.ErrExist), errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.ENOTEMPTY):
		sentinel = storage.ErrExist
	case errors.Is(err, fs.ErrPermission):
		sentinel = storage.ErrPermission
	case strings.Contains(err.Error(), "path escapes from parent"):
		// os.Root refused a symlink leading out of the root.
		sentinel = storage.ErrPermission
	default:
		return err
	}
	// Drop the absolute path os errors carry: it is the operator's
	// business, not the caller's.
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%w (%s: %w)", sentinel, pe.Op, pe.Err)
	}
	return fmt.Errorf("%w (%w)", sentinel, err)
}

func (b *Backend) info(key string, fi fs.FileInfo) storage.ObjectInfo {
	return storage.ObjectInfo{
		Key: key, Size: fi.Size(), ContentType: mime.TypeByExtension(path.Ext(key)),
		ETag: etag(fi), ModTime: fi.ModTime().UTC(),
	}
}

// Get implements storage.Backend.
func (b *Backend) Get(ctx context.Context, key string, opts storage.GetOptions) (io.ReadCloser, storage.ObjectInfo, error) {
	if err := validate(ctx, "get", key); err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	fail := func(err error) (io.ReadCloser, storage.ObjectInfo, error) {
		return nil, storage.ObjectInfo{}, &storage.Error{Op: "get", Key: key, Err: mapErr(err)}
	}
	var f *os.File
	err := b.withRoot(func(r *os.Root) (err error) { f, err = r.Open(key); return err })
	if err != nil {
		return fail(err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err != nil {
		f.Close()
		return fail(err)
	}
	info := b.info(key, fi)
	if opts.Range == nil {
		return f, info, nil
	}
	off, n, err := opts.Range.Resolve(fi.Size())
	if err != nil {
		f.Close()
		return fail(err)
	}
	return &sectionReader{SectionReader: io.NewSectionReader(f, off, n), f: f}, info, nil
}

type sectionReader struct {
	*io.SectionReader
	f *os.File
}

func (s *sectionReader) Close() error { return s.f.Close() }

// FileSection tells the process runtime (rpcplugin.FileSection) that the
// unread rest of this reader is a plain section of one file, so a ranged
// read is handed over as the file itself rather than copied through a pipe.
func (s *sectionReader) FileSection() (*os.File, int64, int64, bool) {
	pos, err := s.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, 0, 0, false
	}
	_, off, n := s.Outer()
	return s.f, off + pos, n - pos, true
}

// Put implements storage.Backend.
func (b *Backend) Put(ctx context.Context, key string, src io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	if err := validate(ctx, "put", key); err != nil {
		return storage.ObjectInfo{}, err
	}
	if b.readOnly() {
		return storage.ObjectInfo{}, &storage.Error{Op: "put", Key: key, Err: fmt.Errorf("the folder is served read-only: %w", errors.ErrUnsupported)}
	}
	fail := func(err error) (storage.ObjectInfo, error) {
		return storage.ObjectInfo{}, &storage.Error{Op: "put", Key: key, Err: mapErr(err)}
	}
	var rnd [12]byte
	rand.Read(rnd[:])
	tmp := tmpDir + "/put-" + hex.EncodeToString(rnd[:])
	var f *os.File
	var noSync bool
	err := b.withRoot(func(r *os.Root) (err error) {
		noSync = b.cfg.NoSync
		f, err = r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
		return err
	})
	if err != nil {
		return fail(err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			b.withRoot(func(r *os.Root) error { return r.Remove(tmp) })
		}
	}()
	// The copy runs without the lock: the file is ours alone, and a slow
	// reader must not hold up Close.
	if _, err := io.Copy(f, ctxReader{ctx, src}); err != nil {
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		return fail(fmt.Errorf("writing the object: %w", err))
	}
	if !noSync {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	var fi fs.FileInfo
	err = b.withRoot(func(r *os.Root) error {
		if dir := path.Dir(key); dir != "." {
			if err := r.MkdirAll(dir, 0o750); err != nil {
				if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) {
					// A file cannot also be a folder here, unlike in
					// object stores.
					return fmt.Errorf("%w: an object exists where a folder of this key would be", storage.ErrExist)
				}
				return err
			}
		}
		if opts.IfAbsent {
			// link(2) fails if the name exists, atomically.
			if err := r.Link(tmp, key); err != nil {
				return err
			}
			r.Remove(tmp)
		} else if err := r.Rename(tmp, key); err != nil {
			return err
		}
		committed = true
		var err error
		fi, err = r.Stat(key)
		return err
	})
	if err != nil {
		return fail(err)
	}
	return b.info(key, fi), nil
}

// ctxReader stops a copy when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Stat implements storage.Backend.
func (b *Backend) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	if err := validate(ctx, "stat", key); err != nil {
		return storage.ObjectInfo{}, err
	}
	var fi fs.FileInfo
	err := b.withRoot(func(r *os.Root) (err error) { fi, err = r.Stat(key); return err })
	if err == nil && !fi.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err != nil {
		return storage.ObjectInfo{}, &storage.Error{Op: "stat", Key: key, Err: mapErr(err)}
	}
	return b.info(key, fi), nil
}

// Delete implements storage.Backend.
func (b *Backend) Delete(ctx context.Context, key string) error {
	if err := validate(ctx, "delete", key); err != nil {
		return err
	}
	if b.readOnly() {
		return &storage.Error{Op: "delete", Key: key, Err: fmt.Errorf("the folder is served read-only: %w", errors.ErrUnsupported)}
	}
	err := b.withRoot(func(r *os.Root) error {
		fi, err := r.Lstat(key)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return fs.ErrNotExist
		}
		if err := r.Remove(key); err != nil {
			return err
		}
		// Tidy now-empty parents; Remove refuses non-empty directories,
		// which ends the climb.
		for dir := path.Dir(key); dir != "."; dir = path.Dir(dir) {
			if r.Remove(dir) != nil {
				break
			}
		}
		return nil
	})
	if err != nil {
		return &storage.Error{Op: "delete", Key: key, Err: mapErr(err)}
	}
	return nil
}

// List implements storage.Backend. It walks the directory holding the
// prefix, so its cost grows with the number of objects under it.
func (b *Backend) List(ctx context.Context, opts storage.ListOptions) (storage.ListPage, error) {
	fail := func(err error) (storage.ListPage, error) {
		return storage.ListPage{}, &storage.Error{Op: "list", Key: opts.Prefix, Err: mapErr(err)}
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	limit := opts.Limit
	if limit <= 0 || limit > DefaultListLimit {
		limit = DefaultListLimit
	}
	start := "."
	if i := strings.LastIndexByte(opts.Prefix, '/'); i > 0 {
		start = opts.Prefix[:i]
		if !storage.ValidKey(start) {
			return storage.ListPage{}, nil
		}
	}
	type entry struct {
		key string
		d   fs.DirEntry
	}
	var found []entry
	err := b.withRoot(func(r *os.Root) error {
		return fs.WalkDir(r.FS(), start, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == start && errors.Is(err, fs.ErrNotExist) {
					return fs.SkipAll
				}
				return err
			}
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			if d.IsDir() {
				if p == tmpDir || (p != "." && !strings.HasPrefix(p+"/", opts.Prefix) && !strings.HasPrefix(opts.Prefix, p+"/")) {
					return fs.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() && strings.HasPrefix(p, opts.Prefix) && p > opts.After && storage.ValidKey(p) {
				found = append(found, entry{p, d})
			}
			return nil
		})
	})
	if err != nil {
		return fail(err)
	}
	// WalkDir's order is per directory ("a/b" before "a.txt"); the API
	// promises byte order.
	slices.SortFunc(found, func(x, y entry) int { return strings.Compare(x.key, y.key) })
	var page storage.ListPage
	if len(found) > limit {
		found = found[:limit]
		page.Next = found[limit-1].key
	}
	for _, e := range found {
		fi, err := e.d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since the walk
		}
		if err != nil {
			return fail(err)
		}
		page.Objects = append(page.Objects, b.info(e.key, fi))
	}
	return page, nil
}
