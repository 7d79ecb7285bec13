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
// plugin): `<scheme>://<key>`, the key being the URL's host and path without
// the leading slash (`local://reports/q3.csv` reads key `reports/q3.csv`).
type Storage struct {
	Backend storage.Backend
}

// Open implements Opener.
func (s Storage) Open(ctx context.Context, rawURL string) (*Object, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	key := strings.TrimPrefix(u.Host+u.Path, "/")
	if key == "" {
		return nil, fmt.Errorf("%w: the URL names no object", ErrNotFound)
	}
	body, info, err := s.Backend.Get(ctx, key, storage.GetOptions{})
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, storage.ErrInvalidKey), errors.Is(err, storage.ErrPermission):
		return nil, fmt.Errorf("%w: %w", ErrForbidden, err)
	case errors.Is(err, plugin.ErrUnavailable):
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return &Object{Body: body, Size: info.Size, ContentType: info.ContentType, Name: path.Base(key)}, nil
}
