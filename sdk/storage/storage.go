// Package storage defines the interface of an nvm-node storage backend: a
// flat namespace of objects addressed by key, read and written as streams.
//
// # Keys
//
// A key is a slash-separated path as accepted by [ValidKey]: no leading or
// trailing slash, no empty, "." or ".." element, no NUL, at most
// [MaxKeyLen] bytes. Backends return an error wrapping [ErrInvalidKey] for any
// other key, so a key can never escape a backend's root.
//
// # Ownership
//
// The caller owns the io.Reader handed to Put and keeps it; the backend reads
// it to EOF (or to the first error) and never closes it. The io.ReadCloser
// returned by Get belongs to the caller, who must Close it; it stays valid
// after Get's context is done and reads the object as it was when Get
// returned, or fails with an error.
//
// # Concurrency and context
//
// Backends are safe for concurrent use (see package plugin for the lifecycle
// and context rules). A Put is atomic: a concurrent Get or Stat sees the old
// object or the complete new one, never a partial one, and a Put whose reader
// fails or whose context is cancelled leaves no object behind.
//
// # Errors
//
// Errors wrap one of the sentinels below, the sentinels of package plugin,
// errors.ErrUnsupported or a context error, usually inside an [*Error]
// carrying the operation and key.
package storage

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nvm-node/nvm-node/sdk/plugin"
)

// APIVersion is the version of this package's Backend interface. It changes
// only when the interface changes incompatibly.
const APIVersion = 1

// MaxKeyLen is the longest key, in bytes, a backend must accept.
const MaxKeyLen = 1024

// Optional features a storage backend declares in its Info.
const (
	// CapRange: Get honours a byte range without reading the skipped bytes.
	// Backends without it still accept ranges but may read and discard.
	CapRange plugin.Capability = "storage.range"
	// CapWrite: Put and Delete are supported (a read-only backend returns
	// errors wrapping errors.ErrUnsupported).
	CapWrite plugin.Capability = "storage.write"
	// CapList: List is supported.
	CapList plugin.Capability = "storage.list"
	// CapIfAbsent: Put honours PutOptions.IfAbsent atomically.
	CapIfAbsent plugin.Capability = "storage.if-absent"
	// CapContentType: the backend keeps the content type given to Put.
	// Backends without it may infer one (from the key's extension) or
	// return "".
	CapContentType plugin.Capability = "storage.content-type"
	// CapPresign: the backend implements [Presigner], handing out URLs that
	// let a client read or write one object directly, without the node.
	CapPresign plugin.Capability = "storage.presign"
)

// Sentinel errors of storage backends; test them with errors.Is.
var (
	// ErrNotFound: no object has the key.
	ErrNotFound = errors.New("object not found")
	// ErrExist: Put with IfAbsent found an object with the key.
	ErrExist = errors.New("object already exists")
	// ErrInvalidKey: the key is not valid (see ValidKey).
	ErrInvalidKey = errors.New("invalid object key")
	// ErrInvalidRange: the requested byte range is not satisfiable.
	ErrInvalidRange = errors.New("invalid byte range")
	// ErrPermission: the backend's credentials do not allow the operation.
	ErrPermission = errors.New("permission denied")
)

// Error records a failed storage operation, in the manner of fs.PathError.
type Error struct {
	Op  string // "get", "put", "stat", "delete", "list", "presign"
	Key string // the key or, for list, the prefix
	Err error
}

func (e *Error) Error() string {
	if e.Key == "" {
		return "storage " + e.Op + ": " + e.Err.Error()
	}
	return "storage " + e.Op + " " + quote(e.Key) + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// quote keeps keys with odd bytes readable in messages without letting them
// forge log lines.
func quote(s string) string {
	if len(s) > 256 {
		s = s[:256] + "..."
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '"' || r == utf8.RuneError }) {
		b := []byte{'"'}
		for _, r := range s {
			if r < 0x20 || r == 0x7f || r == '"' || r == '\\' || r == utf8.RuneError {
				b = append(b, '\\', 'x', "0123456789abcdef"[byte(r)>>4], "0123456789abcdef"[byte(r)&15])
				continue
			}
			b = utf8.AppendRune(b, r)
		}
		return string(append(b, '"'))
	}
	return s
}

// ValidKey reports whether key is a valid object key.
func ValidKey(key string) bool {
	if key == "" || len(key) > MaxKeyLen || !utf8.ValidString(key) {
		return false
	}
	for elem := range strings.SplitSeq(key, "/") {
		if elem == "" || elem == "." || elem == ".." || strings.ContainsRune(elem, 0) {
			return false
		}
	}
	return true
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key string
	// Size is the object's full size in bytes (not the size of a range).
	Size int64
	// ContentType is the MIME type given at Put (with CapContentType),
	// one the backend inferred, or "".
	ContentType string
	// ETag identifies this version of the object's content: it changes when
	// the content changes. Quoting rules are the backend's own.
	ETag    string
	ModTime time.Time
}

// Range selects bytes [Offset, Offset+Length) of an object. A Length below
// zero means to the end of the object. A range starting at or past the end
// of a non-empty object, or with Offset below zero, is invalid; a range
// running past the end is cut to the end, as HTTP does.
type Range struct {
	Offset int64
	Length int64
}

// Resolve returns the offset and length of r within an object of the given
// size, or an error wrapping ErrInvalidRange.
func (r Range) Resolve(size int64) (offset, length int64, err error) {
	if r.Offset < 0 || (r.Offset >= size && !(size == 0 && r.Offset == 0)) || r.Length == 0 {
		return 0, 0, ErrInvalidRange
	}
	length = size - r.Offset
	if r.Length > 0 && r.Length < length {
		length = r.Length
	}
	return r.Offset, length, nil
}

// GetOptions modify Get.
type GetOptions struct {
	// Range, when set, selects part of the object.
	Range *Range
}

// PutOptions modify Put.
type PutOptions struct {
	ContentType string
	// IfAbsent makes Put fail with ErrExist when the key already exists.
	IfAbsent bool
}

// ListOptions select a page of List.
type ListOptions struct {
	// Prefix keeps only keys starting with it (a plain string prefix, not a
	// path element).
	Prefix string
	// After keeps only keys sorting after it; pass the previous page's Next.
	After string
	// Limit caps the page size; zero means the backend's default. Backends
	// may return fewer.
	Limit int
}

// ListPage is one page of List, in ascending byte order of keys.
type ListPage struct {
	Objects []ObjectInfo
	// Next is the After of the next page, or "" when this was the last one.
	Next string
}

// Backend is a storage backend. See the package documentation for the rules
// on ownership, concurrency, context and errors.
type Backend interface {
	plugin.Plugin

	// Get opens the object (or the selected range of it) for reading and
	// returns its info. The caller must close the reader.
	Get(ctx context.Context, key string, opts GetOptions) (io.ReadCloser, ObjectInfo, error)
	// Put stores the bytes of r, of unknown length, under key, replacing any
	// object there unless opts.IfAbsent is set. It returns the new object's
	// info.
	Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (ObjectInfo, error)
	// Stat returns the object's info.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// Delete removes the object; deleting a missing key returns an error
	// wrapping ErrNotFound.
	Delete(ctx context.Context, key string) error
	// List returns a page of objects.
	List(ctx context.Context, opts ListOptions) (ListPage, error)
}

// PresignOptions say what a presigned URL allows.
type PresignOptions struct {
	// Method is "GET" (read the object) or "PUT" (write it).
	Method string
	// Expires is how long the URL stays valid; zero means the backend's
	// default. Backends may refuse a duration beyond their own limit.
	Expires time.Duration
}

// Presigner is implemented by backends declaring [CapPresign]: Presign
// returns a URL that performs opts.Method on the object under key for
// anyone holding it, until it expires. The URL carries its own credentials,
// so it must be handed only to whoever may access the object. A backend
// that cannot presign (or a transport whose plugin does not declare
// CapPresign) returns an error wrapping errors.ErrUnsupported.
type Presigner interface {
	Presign(ctx context.Context, key string, opts PresignOptions) (string, error)
}
