package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// Storage opens URLs through a storage backend (builtin, process or WASM
// plugin). The object key is the URL minus Prefix, percent-decoded, and must
// be a valid storage key: no "..", ".", empty element or leading "/", and
// no raw "?" or "#" (encode them), so that a URL cannot leave the prefix.
type Storage struct {
	Backend storage.Backend
	// Prefix is the URL prefix served, e.g. "s3://nvm-assets/" or
	// "file:///srv/data/". Empty means the URL's own "<scheme>://", so that
	// `local://reports/q3.csv` reads key `reports/q3.csv`.
	Prefix string
}

// Key returns the object key rawURL names.
func (s Storage) Key(rawURL string) (string, error) {
	norm, scheme, err := normalize(rawURL)
	if err != nil {
		return "", err
	}
	prefix := s.Prefix
	if prefix == "" {
		prefix = scheme + "://"
	}
	rest, ok := strings.CutPrefix(norm, prefix)
	switch {
	case !ok:
		return "", fmt.Errorf("%w: the URL is not under %s", ErrUnsupported, prefix)
	case rest == "":
		return "", fmt.Errorf("%w: the URL names no object", ErrNotFound)
	case strings.ContainsAny(rest, "?#"):
		return "", fmt.Errorf("%w: a storage URL has no query or fragment", ErrInvalidKey)
	}
	key, err := url.PathUnescape(rest)
	if err != nil || !storage.ValidKey(key) {
		return "", fmt.Errorf("%w: the URL's path is not a valid object key", ErrInvalidKey)
	}
	return key, nil
}

// Open implements Opener. A suffix range costs a Stat first, since storage
// backends take offsets only.
func (s Storage) Open(ctx context.Context, req Request) (*Object, error) {
	key, err := s.Key(req.URL)
	if err != nil {
		return nil, err
	}
	var opts storage.GetOptions
	if r := req.Range; r != nil {
		switch {
		case r.Suffix > 0:
			info, err := s.Backend.Stat(ctx, key)
			if err != nil {
				return nil, storageError(err)
			}
			off, n, err := r.Resolve(info.Size)
			if err != nil {
				return nil, err
			}
			opts.Range = &storage.Range{Offset: off, Length: n}
		case r.Length < 0:
			opts.Range = &storage.Range{Offset: r.Offset, Length: -1}
		default:
			opts.Range = &storage.Range{Offset: r.Offset, Length: r.Length}
		}
	}
	body, info, err := s.Backend.Get(ctx, key, opts)
	if errors.Is(err, storage.ErrInvalidRange) {
		if info, serr := s.Backend.Stat(ctx, key); serr == nil {
			return nil, &RangeError{Size: info.Size}
		}
		return nil, &RangeError{Size: -1}
	}
	if err != nil {
		return nil, storageError(err)
	}
	obj := &Object{
		Body: body, Size: info.Size, Length: info.Size, ETag: info.ETag, ModTime: info.ModTime,
		ContentType: info.ContentType, Name: path.Base(key),
	}
	if opts.Range != nil {
		// Resolved against the size of the version actually opened, which a
		// suffix's Stat may not have seen.
		off, n, err := Range{Offset: opts.Range.Offset, Length: opts.Range.Length}.Resolve(info.Size)
		if err != nil {
			body.Close()
			return nil, err
		}
		obj.Offset, obj.Length, obj.Ranged = off, n, true
		obj.Body = limitBody(body, n)
	}
	return obj, nil
}

func storageError(err error) error {
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, storage.ErrInvalidKey):
		return fmt.Errorf("%w: %w", ErrInvalidKey, err)
	case errors.Is(err, storage.ErrPermission):
		return fmt.Errorf("%w: %w", ErrForbidden, err)
	case errors.Is(err, plugin.ErrUnavailable):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
