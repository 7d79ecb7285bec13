package pluginhost

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
	"github.com/nvm-node/nvm-node/sdk/storagetest"
)

// benchSize is the object size of BenchmarkGet: 1 GiB, or
// NVM_STORAGETEST_LARGE (e.g. 64MiB) for a quicker run.
func benchSize(b *testing.B) int64 {
	if v := os.Getenv(storagetest.LargeEnv); v != "" {
		n, err := storagetest.ParseSize(v)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	return 1 << 30
}

// benchHosts loads the same directory backend as a builtin and as a process
// plugin, so the two differ only by runtime.
func benchHosts(b *testing.B, root string) map[string]storage.Backend {
	path, sha := examplePlugin(b)
	cfg := plugin.Config(fmt.Sprintf(`{"root":%q,"noSync":true}`, root))
	h := New(Options{Logger: quietLogger()})
	err := h.Load(context.Background(), []Entry{
		{ID: "storage.local", Runtime: RuntimeBuiltin, Config: cfg},
		{ID: "storage.example", Runtime: RuntimeProcess, Path: path, SHA256: sha, Config: cfg},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close(context.Background()) })
	local, _ := h.Storage("storage.local")
	proc, _ := h.Storage("storage.example")
	return map[string]storage.Backend{"builtin": local, "process": proc}
}

type chachaReader struct {
	left int64
	rng  *rand.ChaCha8
}

func (r *chachaReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.left)]
	r.rng.Read(p)
	r.left -= int64(len(p))
	return len(p), nil
}

// BenchmarkGet streams one large object per iteration through each
// runtime. Run it with -benchtime=2x -benchmem (and -count for a median:
// on a shared machine single runs vary by 2x).
//
// On Linux the process runtime reads the object's file itself: the plugin
// hands the node the file's descriptor (see sdk/rpcplugin), so "process"
// reads the page cache like "builtin", plus a per-Get cost of a gRPC round
// trip and a descriptor passing. It can even beat "builtin": its reader
// copies through a 256 KiB buffer (WriteTo), where io.Copy reads the
// builtin's *os.File into io.Discard 8 KiB at a time. sdk/rpcplugin's
// BenchmarkGetModes compares that with the pipe used for data a plugin
// produces and with the gRPC chunks used where descriptors cannot pass.
func BenchmarkGet(b *testing.B) {
	size := benchSize(b)
	root := b.TempDir()
	backends := benchHosts(b, root)
	if _, err := backends["builtin"].Put(context.Background(), "big", &chachaReader{left: size, rng: rand.NewChaCha8([32]byte{1})}, storage.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	for _, rt := range []string{"builtin", "process"} {
		be := backends[rt]
		b.Run(fmt.Sprintf("%s/%dMiB", rt, size>>20), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				rc, _, err := be.Get(context.Background(), "big", storage.GetOptions{})
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, rc)
				rc.Close()
				if err != nil || n != size {
					b.Fatalf("copied %d of %d: %v", n, size, err)
				}
			}
		})
	}
}

// BenchmarkStat measures the overhead of a trivial call in each runtime.
func BenchmarkStat(b *testing.B) {
	backends := benchHosts(b, b.TempDir())
	if _, err := backends["builtin"].Put(context.Background(), "small", io.LimitReader(&chachaReader{left: 10, rng: rand.NewChaCha8([32]byte{})}, 10), storage.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	for _, rt := range []string{"builtin", "process"} {
		be := backends[rt]
		b.Run(rt, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := be.Stat(context.Background(), "small"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
