package pluginhost

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// wasmBenchHosts loads the same directory backend as a builtin and as the
// example WASM module, so the two differ only by runtime.
func wasmBenchHosts(b *testing.B, root string) map[string]storage.Backend {
	e := exampleWASM(b, root)
	h := New(Options{Logger: quietLogger(), WASMCacheDir: wasmCacheDir(b)})
	err := h.Load(context.Background(), []Entry{
		{ID: "storage.local", Runtime: RuntimeBuiltin, Config: plugin.Config(fmt.Sprintf(`{"root":%q,"noSync":true}`, root))},
		e,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close(context.Background()) })
	local, _ := h.Storage("storage.local")
	wasm, _ := h.Storage(e.ID)
	return map[string]storage.Backend{"builtin": local, "wasm": wasm}
}

// BenchmarkWASMGet streams one large object (1 GiB, or
// NVM_STORAGETEST_LARGE) per iteration through the builtin and the WASM
// runtime. Run it with -benchtime=3x -benchmem.
func BenchmarkWASMGet(b *testing.B) {
	size := benchSize(b)
	root := b.TempDir()
	backends := wasmBenchHosts(b, root)
	if _, err := backends["builtin"].Put(context.Background(), "big", &chachaReader{left: size, rng: rand.NewChaCha8([32]byte{1})}, storage.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	for _, rt := range []string{"builtin", "wasm"} {
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
					b.Fatalf("copied %d of %d bytes: %v", n, size, err)
				}
			}
		})
	}
}

// BenchmarkWASMPut writes a 64 MiB object per iteration through each
// runtime.
func BenchmarkWASMPut(b *testing.B) {
	const size = 64 << 20
	backends := wasmBenchHosts(b, b.TempDir())
	for _, rt := range []string{"builtin", "wasm"} {
		be := backends[rt]
		b.Run(rt, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := be.Put(context.Background(), "put-"+rt, &chachaReader{left: size, rng: rand.NewChaCha8([32]byte{2})}, storage.PutOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWASMStat measures a trivial call: Stat of a small object on the
// builtin and WASM directory backends, and on an in-memory WASM backend,
// whose Stat touches no file: the cost of crossing into the module and
// back.
func BenchmarkWASMStat(b *testing.B) {
	backends := wasmBenchHosts(b, b.TempDir())
	h := New(Options{Logger: quietLogger(), WASMCacheDir: wasmCacheDir(b)})
	if err := h.Load(context.Background(), []Entry{misbehaveWASM(b)}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close(context.Background()) })
	backends["wasm-memory"], _ = h.Storage("storage.misbehave")
	for _, rt := range []string{"builtin", "wasm-memory"} {
		if _, err := backends[rt].Put(context.Background(), "small", strings.NewReader("x"), storage.PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	for _, rt := range []string{"builtin", "wasm", "wasm-memory"} {
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
