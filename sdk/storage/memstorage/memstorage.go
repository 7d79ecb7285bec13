// Package memstorage is a storage backend that keeps objects in memory, for
// tests and as the smallest complete example of a storage.Backend.
//
// Objects are stored as lists of fixed-size chunks, so a Put of n bytes
// holds about n bytes, not the 2n a growing buffer would need at its peak.
package memstorage

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// Name is the backend's name; its plugin id is "storage.memory".
const Name = "memory"

const chunkSize = 1 << 20

// Config is the backend's configuration.
type Config struct {
	// MaxBytes caps the total size of stored objects; zero means no cap.
	MaxBytes int64 `json:"maxBytes"`
}

type object struct {
	info   storage.ObjectInfo
	chunks [][]byte // immutable once stored
}

// Backend is an in-memory storage.Backend. The zero value is not usable;
// call New.
type Backend struct {
	mu         sync.RWMutex
	objects    map[string]*object
	used       int64
	cfg        Config
	configured bool
	closed     bool
	now        func() time.Time
}

var _ storage.Backend = (*Backend)(nil)

// New returns an unconfigured backend.
func New() *Backend {
	return &Backend{objects: map[string]*object{}, now: time.Now}
}

// Info implements plugin.Plugin.
func (b *Backend) Info(context.Context) (plugin.Info, error) {
	return plugin.Info{
		Kind: plugin.KindStorage, Name: Name, Version: "v0.1.0", APIVersion: storage.APIVersion,
		Capabilities: []plugin.Capability{storage.CapRange, storage.CapWrite, storage.CapList, storage.CapIfAbsent, storage.CapContentType},
	}, nil
}

// Configure implements plugin.Plugin.
func (b *Backend) Configure(_ context.Context, raw plugin.Config) error {
	var cfg Config
	if err := raw.Decode(&cfg); err != nil {
		return err
	}
	if cfg.MaxBytes < 0 {
		return fmt.Errorf("%w: maxBytes is negative", plugin.ErrInvalidConfig)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return plugin.ErrClosed
	}
	b.cfg, b.configured = cfg, true
	return nil
}

// Close implements plugin.Plugin; it drops every object.
func (b *Backend) Close(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed, b.objects, b.used = true, nil, 0
	return nil
}

// usable returns the lifecycle error for op, if any; the caller holds mu.
func (b *Backend) usable() error {
	switch {
	case b.closed:
		return plugin.ErrClosed
	case !b.configured:
		return plugin.ErrNotConfigured
	}
	return nil
}

func check(ctx context.Context, op, key string) error {
	if err := ctx.Err(); err != nil {
		return &storage.Error{Op: op, Key: key, Err: err}
	}
	if !storage.ValidKey(key) {
		return &storage.Error{Op: op, Key: key, Err: storage.ErrInvalidKey}
	}
	return nil
}

func (b *Backend) lookup(op, key string) (*object, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if err := b.usable(); err != nil {
		return nil, &storage.Error{Op: op, Key: key, Err: err}
	}
	o, ok := b.objects[key]
	if !ok {
		return nil, &storage.Error{Op: op, Key: key, Err: storage.ErrNotFound}
	}
	return o, nil
}

// Get implements storage.Backend.
func (b *Backend) Get(ctx context.Context, key string, opts storage.GetOptions) (io.ReadCloser, storage.ObjectInfo, error) {
	if err := check(ctx, "get", key); err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	o, err := b.lookup("get", key)
	if err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	off, n := int64(0), o.info.Size
	if opts.Range != nil {
		if off, n, err = opts.Range.Resolve(o.info.Size); err != nil {
			return nil, storage.ObjectInfo{}, &storage.Error{Op: "get", Key: key, Err: err}
		}
	}
	return &reader{chunks: o.chunks, off: off, left: n}, o.info, nil
}

// reader reads a snapshot of an object's chunks; chunks are never mutated,
// so it needs no lock.
type reader struct {
	chunks [][]byte
	off    int64
	left   int64
	closed bool
}

func (r *reader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, errors.New("memstorage: read after close")
	}
	if r.left == 0 {
		return 0, io.EOF
	}
	c := r.chunks[r.off/chunkSize][r.off%chunkSize:]
	n := copy(p, c[:min(int64(len(c)), r.left)])
	r.off += int64(n)
	r.left -= int64(n)
	return n, nil
}

func (r *reader) Close() error { r.closed = true; return nil }

// Put implements storage.Backend.
func (b *Backend) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	if err := check(ctx, "put", key); err != nil {
		return storage.ObjectInfo{}, err
	}
	fail := func(err error) (storage.ObjectInfo, error) {
		return storage.ObjectInfo{}, &storage.Error{Op: "put", Key: key, Err: err}
	}
	b.mu.RLock()
	err := b.usable()
	_, exists := b.objects[key]
	limit := b.cfg.MaxBytes
	b.mu.RUnlock()
	if err != nil {
		return fail(err)
	}
	if opts.IfAbsent && exists {
		return fail(storage.ErrExist)
	}
	h := sha256.New()
	var chunks [][]byte
	var size int64
	for {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		c := make([]byte, chunkSize)
		n, err := io.ReadFull(r, c)
		if n > 0 {
			chunks = append(chunks, c[:n:n])
			h.Write(c[:n])
			size += int64(n)
			if limit > 0 && size > limit {
				return fail(fmt.Errorf("object exceeds the backend's %d-byte capacity: %w", limit, errors.ErrUnsupported))
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return fail(fmt.Errorf("reading the object: %w", err))
		}
	}
	info := storage.ObjectInfo{
		Key: key, Size: size, ContentType: opts.ContentType,
		ETag: `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`, ModTime: b.now().UTC(),
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usable(); err != nil {
		return fail(err)
	}
	old, exists := b.objects[key]
	if opts.IfAbsent && exists {
		return fail(storage.ErrExist)
	}
	var oldSize int64
	if exists {
		oldSize = old.info.Size
	}
	if limit > 0 && b.used-oldSize+size > limit {
		return fail(fmt.Errorf("backend full (%d-byte capacity): %w", limit, errors.ErrUnsupported))
	}
	b.objects[key] = &object{info: info, chunks: chunks}
	b.used += size - oldSize
	return info, nil
}

// Stat implements storage.Backend.
func (b *Backend) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	if err := check(ctx, "stat", key); err != nil {
		return storage.ObjectInfo{}, err
	}
	o, err := b.lookup("stat", key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	return o.info, nil
}

// Delete implements storage.Backend.
func (b *Backend) Delete(ctx context.Context, key string) error {
	if err := check(ctx, "delete", key); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usable(); err != nil {
		return &storage.Error{Op: "delete", Key: key, Err: err}
	}
	o, ok := b.objects[key]
	if !ok {
		return &storage.Error{Op: "delete", Key: key, Err: storage.ErrNotFound}
	}
	delete(b.objects, key)
	b.used -= o.info.Size
	return nil
}

// DefaultListLimit is the page size of List when ListOptions.Limit is zero.
const DefaultListLimit = 1000

// List implements storage.Backend.
func (b *Backend) List(ctx context.Context, opts storage.ListOptions) (storage.ListPage, error) {
	if err := ctx.Err(); err != nil {
		return storage.ListPage{}, &storage.Error{Op: "list", Key: opts.Prefix, Err: err}
	}
	limit := opts.Limit
	if limit <= 0 || limit > DefaultListLimit {
		limit = DefaultListLimit
	}
	b.mu.RLock()
	if err := b.usable(); err != nil {
		b.mu.RUnlock()
		return storage.ListPage{}, &storage.Error{Op: "list", Key: opts.Prefix, Err: err}
	}
	var infos []storage.ObjectInfo
	for k, o := range b.objects {
		if strings.HasPrefix(k, opts.Prefix) && k > opts.After {
			infos = append(infos, o.info)
		}
	}
	b.mu.RUnlock()
	slices.SortFunc(infos, func(a, b storage.ObjectInfo) int { return cmp.Compare(a.Key, b.Key) })
	var page storage.ListPage
	if len(infos) > limit {
		infos = infos[:limit]
		page.Next = infos[limit-1].Key
	}
	page.Objects = infos
	return page, nil
}
