package main

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/nvm-node/nvm-node/plugins/storage-s3/internal/s3test"
	"github.com/nvm-node/nvm-node/sdk/storage"
	"github.com/nvm-node/nvm-node/sdk/storagetest"
)

// BenchEnv sets the object size of the benchmarks (default 1GiB), in the
// syntax of storagetest.ParseSize.
const BenchEnv = "NVM_S3_BENCH_SIZE"

func benchSize(b *testing.B) int64 {
	if v := os.Getenv(BenchEnv); v != "" {
		n, err := storagetest.ParseSize(v)
		if err != nil {
			b.Fatalf("%s: %v", BenchEnv, err)
		}
		return n
	}
	return 1 << 30
}

// pattern yields n bytes cycling through a random 1 MiB block: cheap to
// produce, and not compressible by anything on the way.
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

// BenchmarkProcessPut stores one object per iteration through the plugin
// process (host -> gRPC -> plugin -> S3 multipart -> versitygw). Allocations
// are the host's; the plugin's memory is TestPluginMemoryBounded's.
func BenchmarkProcessPut(b *testing.B) {
	size := benchSize(b)
	srv := s3test.Start(b)
	_, be := startConfigured(b, srv.Config("bench", "", ""))
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := be.Put(context.Background(), "bench/object", newPattern(size), storage.PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProcessGet reads one object per iteration through the plugin.
func BenchmarkProcessGet(b *testing.B) {
	size := benchSize(b)
	srv := s3test.Start(b)
	_, be := startConfigured(b, srv.Config("bench", "", ""))
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
