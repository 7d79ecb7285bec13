package pluginhost

import (
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nvm-node/nvm-node/sdk/rpcplugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// TestPresignForwarded checks Presign reaches a process plugin through the
// supervisor and metering wrappers, with its errors intact, and that a
// backend without the capability says so.
func TestPresignForwarded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "presigner")
	if out, err := exec.Command("go", "build", "-o", path, "./testdata/presigner").CombinedOutput(); err != nil {
		t.Fatalf("building the test plugin: %v\n%s", err, out)
	}
	sha, err := rpcplugin.FileSHA256(path)
	if err != nil {
		t.Fatal(err)
	}
	h := newHost(t, RestartPolicy{},
		Entry{ID: "storage.presigner", Runtime: RuntimeProcess, Path: path, SHA256: sha},
		Entry{ID: "storage.memory", Runtime: RuntimeBuiltin})

	b, _ := h.Storage("storage.presigner")
	p, ok := b.(storage.Presigner)
	if !ok {
		t.Fatalf("host's storage backend %T does not implement storage.Presigner", b)
	}
	u, err := p.Presign(t.Context(), "a/b.txt", storage.PresignOptions{Method: "PUT", Expires: time.Minute})
	if want := "test://a/b.txt?method=PUT&expires=1m0s"; err != nil || u != want {
		t.Errorf("Presign = %q, %v; want %q", u, err, want)
	}
	_, err = p.Presign(t.Context(), "../x", storage.PresignOptions{Method: "GET"})
	if !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("Presign of a bad key: %v, want ErrInvalidKey", err)
	}

	m, _ := h.Storage("storage.memory")
	_, err = m.(storage.Presigner).Presign(t.Context(), "k", storage.PresignOptions{Method: "GET"})
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Presign on a builtin without the capability: %v, want ErrUnsupported", err)
	}
}
