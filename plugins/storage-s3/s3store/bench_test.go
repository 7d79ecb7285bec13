package s3store_test

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/nvm-node/nvm-node/plugins/storage-s3/internal/s3test"
	"github.com/nvm-node/nvm-node/plugins/storage-s3/s3store"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
	"github.com/nvm-node/nvm-node/sdk/storagetest"
)

// benchSize reads NVM_S3_BENCH_SIZE (default 1GiB).
func benchSize(b *testing.B) int64 {
	if v := os.Getenv("NVM_S3_BENCH_SIZE"); v != "" {
		n, err := storagetest.ParseSize(v)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	return 1 << 30
}

// pattern yields n bytes cycling through a random 1 MiB block.
type pattern struct {
	block []byte
	n     int64
	off   int
}

func newPattern(n int64) *pattern {
	block := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{1}).Read(block)
	return &pattern{block: block, n: n}
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.n == 0 {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n)]
	n := 0
	for n < len(b) {
		c := copy(b[n:], p.block[p.off:])
		n += c
		p.off = (p.off + c) % len(p.block)
	}
	p.n -= int64(n)
	return n, nil
}

func benchBackend(b *testing.B) *s3store.Backend {
	srv := s3test.Start(b)
	be := s3store.New(quiet())
	if err := be.Configure(context.Background(), plugin.Config(srv.Config("bench", "", ""))); err != nil {
		b.Fatal(err)
	}
	return be
}

// BenchmarkPut stores one object per iteration, in process (no plugin
// boundary), for comparison with the plugin's own benchmarks.
func BenchmarkPut(b *testing.B) {
	size := benchSize(b)
	be := benchBackend(b)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := be.Put(context.Background(), "bench/object", newPattern(size), storage.PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGet reads one object per iteration, in process.
func BenchmarkGet(b *testing.B) {
	size := benchSize(b)
	be := benchBackend(b)
	if _, err := be.Put(context.Background(), "bench/object", newPattern(size), storage.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		rc, _, err := be.Get(context.Background(), "bench/object", storage.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n != size {
			b.Fatalf("read %d of %d bytes: %v", n, size, err)
		}
	}
}
