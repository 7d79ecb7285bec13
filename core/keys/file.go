package keys

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// keyFileMode is the permission of every key file this package writes: readable
// by the node's user only.
const keyFileMode fs.FileMode = 0o600

// writeNewFile writes data to path with mode 0600 so that path either does not
// exist or holds the complete content: the data goes to a temporary file in the
// same directory, is synced, then hard-linked into place. A link, unlike a
// rename, fails when path already exists, so an existing key is never replaced,
// even by a concurrent writer. The error wraps fs.ErrExist in that case.
func writeNewFile(path string, data []byte) (err error) {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("keys: refusing to overwrite %s: %w", path, fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("keys: check %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("keys: create temporary file in %s: %w", dir, err)
	}
	tmpName := tmp.Name()
	defer func() {
		// The temporary name is removed on success too: the key lives on under path.
		if rmErr := os.Remove(tmpName); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) && err == nil {
			err = fmt.Errorf("keys: remove temporary file: %w", rmErr)
		}
	}()
	if err := tmp.Chmod(keyFileMode); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("keys: chmod temporary file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("keys: write temporary file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("keys: sync temporary file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keys: close temporary file: %w", err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("keys: refusing to overwrite %s: %w", path, fs.ErrExist)
		}
		return fmt.Errorf("keys: move key file into place: %w", err)
	}
	syncDir(dir)
	return nil
}

// syncDir makes the new directory entry durable. Failure is ignored because
// some filesystems cannot sync directories and the file itself is complete.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// readKeyFile reads a key file named by a configuration value. Operators
// sometimes paste key material where a path belongs; if such a value reached
// an error message the secret would end up in the logs, so the value is shown
// only when it looks like a path (see displayPath).
func readKeyFile(what, path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("keys: read %s %s: %w", what, displayPath(path), err)
	}
	return data, nil
}

// displayPath returns path for messages, or a placeholder when the value does
// not look like a file path (PEM text, a hex private key, a mnemonic).
func displayPath(path string) string {
	if path == "" {
		return `""`
	}
	looksLikePath := len(path) > 0 && len(path) < 1024 &&
		strings.ContainsAny(path, "/.") &&
		!strings.ContainsAny(path, "\n\r ") &&
		!strings.Contains(path, "-----")
	if h := strings.TrimPrefix(strings.TrimSpace(path), "0x"); len(h) == 64 && isHex(h) {
		return "(value hidden: it looks like a raw private key, not a file; write it as a keystore with `node keys import`)"
	}
	if !looksLikePath {
		return "(value hidden: it does not look like a file path)"
	}
	return strconv.Quote(path)
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
