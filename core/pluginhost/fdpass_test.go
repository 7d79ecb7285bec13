package pluginhost

import (
	"bytes"
	"errors"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// TestGetAcrossCrashes reads objects through a supervised process plugin
// (descriptor passing on Linux) while the plugin is killed and restarted:
// a file already handed over still reads in full, calls during the crash
// fail cleanly naming the plugin, the restarted plugin serves again, and
// the node holds no more descriptors than before (each dead process's
// descriptor channel is closed).
func TestGetAcrossCrashes(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts descriptors through /proc")
	}
	h := newHost(t, RestartPolicy{BackoffMin: 10 * time.Millisecond, MaxCrashes: 100}, processEntry(t, t.TempDir()))
	b, _ := h.Storage("storage.example")
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	if _, err := b.Put(t.Context(), "obj", bytes.NewReader(data), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	before := fds()
	for range 3 {
		rc, _, err := b.Get(t.Context(), "obj", storage.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 1<<20)
		if _, err := io.ReadFull(rc, head); err != nil {
			t.Fatal(err)
		}
		kill(t, h, "storage.example")
		_, err = b.Stat(t.Context(), "obj")
		if err != nil && (!errors.Is(err, plugin.ErrUnavailable) || !strings.Contains(err.Error(), "storage.example")) {
			t.Errorf("Stat right after the crash: %v", err)
		}
		rest, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(append(head, rest...), data) {
			t.Fatalf("reading the handed-over file across the crash: %d bytes, %v", len(rest), err)
		}
		waitUp(t, b, "obj")
	}
	got, err := func() ([]byte, error) {
		rc, _, err := b.Get(t.Context(), "obj", storage.GetOptions{Range: &storage.Range{Offset: 5, Length: 10}})
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}()
	if err != nil || !bytes.Equal(got, data[5:15]) {
		t.Fatalf("ranged Get after the restarts: %q, %v", got, err)
	}
	// One restarted process runs, as before the loop. (No waiting and no
	// GC here: a finalizer would close a leaked descriptor eventually.)
	if n := fds(); n > before {
		t.Errorf("the node holds %d descriptors after 3 crashes and restarts, %d before", n, before)
	}
}
