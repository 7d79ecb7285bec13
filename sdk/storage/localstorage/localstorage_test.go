package localstorage_test

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
	"github.com/nvm-node/nvm-node/sdk/storage/localstorage"
	"github.com/nvm-node/nvm-node/sdk/storagetest"
)

func configured(t *testing.T, dir string) *localstorage.Backend {
	t.Helper()
	raw, _ := json.Marshal(localstorage.Config{Root: dir, NoSync: true})
	b := localstorage.New()
	if err := b.Configure(t.Context(), raw); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, storagetest.Options{
		New:          func(t *testing.T) storage.Backend { return configured(t, t.TempDir()) },
		Unconfigured: func(*testing.T) storage.Backend { return localstorage.New() },
		BadConfig:    plugin.Config(`{"root":"/nonexistent/nvm-node-test"}`),
	})
}

// TestReadOnlyConformance runs the read-only suite over a folder the backend
// serves with read_only: objects are seeded behind it, and every write is
// refused without touching the folder.
func TestReadOnlyConformance(t *testing.T) {
	roots := map[storage.Backend]string{}
	var mu sync.Mutex
	storagetest.Run(t, storagetest.Options{
		ReadOnly: true,
		New: func(t *testing.T) storage.Backend {
			dir := t.TempDir()
			raw, _ := json.Marshal(localstorage.Config{Root: dir, ReadOnly: true})
			b := localstorage.New()
			if err := b.Configure(t.Context(), raw); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			roots[b] = dir
			mu.Unlock()
			return b
		},
		Seed: func(t *testing.T, b storage.Backend, key string, data []byte) {
			mu.Lock()
			dir := roots[b]
			mu.Unlock()
			p := filepath.Join(dir, filepath.FromSlash(key))
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
		},
		Unconfigured: func(*testing.T) storage.Backend { return localstorage.New() },
		BadConfig:    plugin.Config(`{"root":"/nonexistent/nvm-node-test","read_only":true}`),
	})
	// Nothing of the backend's own (its temporary folder) was written.
	dir := t.TempDir()
	raw, _ := json.Marshal(localstorage.Config{Root: dir, ReadOnly: true, Create: true})
	b := localstorage.New()
	if err := b.Configure(t.Context(), raw); err != nil {
		t.Fatal(err)
	}
	defer b.Close(t.Context())
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a read-only backend wrote into its folder: %v", entries)
	}
}

// TestSymlinkEscape plants symlinks leading out of the root, as an operator
// or another process might; os.Root must refuse to follow them.
func TestSymlinkEscape(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "file")); err != nil {
		t.Fatal(err)
	}
	b := configured(t, root)
	defer b.Close(t.Context())
	for _, key := range []string{"link/secret", "file"} {
		rc, _, err := b.Get(t.Context(), key, storage.GetOptions{})
		if err == nil {
			data, _ := io.ReadAll(rc)
			rc.Close()
			t.Fatalf("Get(%q) read %q from outside the root", key, data)
		}
		if !errors.Is(err, storage.ErrPermission) && !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrPermission or ErrNotFound", key, err)
		}
		if strings.Contains(err.Error(), outside) {
			t.Errorf("error %q reveals a filesystem path", err)
		}
	}
	if _, err := b.Put(t.Context(), "link/planted", strings.NewReader("x"), storage.PutOptions{}); err == nil {
		t.Error("Put through a symlink out of the root succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Error("Put wrote outside the root")
	}
}

func TestReservedTempDir(t *testing.T) {
	b := configured(t, t.TempDir())
	defer b.Close(t.Context())
	for _, key := range []string{".nvm-tmp", ".nvm-tmp/x"} {
		if _, err := b.Put(t.Context(), key, strings.NewReader("x"), storage.PutOptions{}); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", key, err)
		}
	}
	if _, err := b.Put(t.Context(), "k", strings.NewReader("x"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := b.List(t.Context(), storage.ListOptions{})
	if err != nil || len(p.Objects) != 1 || p.Objects[0].Key != "k" {
		t.Errorf("List = %+v, %v; want only k", p, err)
	}
}

// TestFileFolderConflict: a filesystem cannot hold both "a" and "a/b".
func TestFileFolderConflict(t *testing.T) {
	b := configured(t, t.TempDir())
	defer b.Close(t.Context())
	put := func(key string) error {
		_, err := b.Put(t.Context(), key, strings.NewReader("x"), storage.PutOptions{})
		return err
	}
	if err := put("a"); err != nil {
		t.Fatal(err)
	}
	if err := put("a/b"); !errors.Is(err, storage.ErrExist) {
		t.Errorf("Put below an object = %v, want ErrExist", err)
	}
	if err := put("d/e"); err != nil {
		t.Fatal(err)
	}
	if err := put("d"); !errors.Is(err, storage.ErrExist) {
		t.Errorf("Put over a folder = %v, want ErrExist", err)
	}
}
