package gcsstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/api/googleapi"

	"github.com/nvm-node/nvm-node/plugins/storage-gcs/internal/fakegcs"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
	"github.com/nvm-node/nvm-node/sdk/storagetest"
)

// newBucketName names a fresh bucket per backend, so each conformance
// subtest starts empty.
func newBucketName() string { return "nvm-test-" + strings.ToLower(rand.Text()[:12]) }

func configJSON(t testing.TB, c map[string]any) plugin.Config {
	t.Helper()
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// newBackend configures a backend on srv with extra config keys.
func newBackend(t testing.TB, srv *fakegcs.Server, extra map[string]any) *Backend {
	t.Helper()
	c := map[string]any{"bucket": newBucketName(), "endpoint": srv.Endpoint, "create_bucket": true, "project_id": "test"}
	for k, v := range extra {
		c[k] = v
	}
	b := New(slog.New(slog.DiscardHandler))
	if err := b.Configure(context.Background(), configJSON(t, c)); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return b
}

func TestConformance(t *testing.T) {
	srv := fakegcs.Start(t)
	storagetest.Run(t, storagetest.Options{
		New: func(t *testing.T) storage.Backend { return newBackend(t, srv, nil) },
		Unconfigured: func(t *testing.T) storage.Backend {
			return New(slog.New(slog.DiscardHandler))
		},
		BadConfig: plugin.Config(`{"bucket": "b-ok", "endpoint": "` + srv.Endpoint + `", "bukket": "typo"}`),
	})
}

// A prefix keeps two backends on one bucket apart, and the conformance
// suite passes under one.
func TestPrefix(t *testing.T) {
	srv := fakegcs.Start(t)
	bucket := newBucketName()
	mk := func(prefix string) *Backend {
		return newBackend(t, srv, map[string]any{"bucket": bucket, "prefix": prefix})
	}
	root, a, b := mk(""), mk("tenant-a/"), mk("tenant-b/x/")
	ctx := t.Context()
	for _, be := range []*Backend{a, b} {
		if _, err := be.Put(ctx, "same/key", strings.NewReader(be.cfg.Prefix), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rc, oi, err := a.Get(ctx, "same/key", storage.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "tenant-a/" || oi.Key != "same/key" {
		t.Errorf("Get through prefix = %q, key %q", got, oi.Key)
	}
	page, err := root.List(ctx, storage.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range page.Objects {
		names = append(names, o.Key)
	}
	if strings.Join(names, " ") != "tenant-a/same/key tenant-b/x/same/key" {
		t.Errorf("objects in the bucket: %v", names)
	}
	page, err = b.List(ctx, storage.ListOptions{})
	if err != nil || len(page.Objects) != 1 || page.Objects[0].Key != "same/key" {
		t.Errorf("List under prefix = %+v, %v", page, err)
	}

	storagetest.Run(t, storagetest.Options{
		New: func(t *testing.T) storage.Backend {
			return newBackend(t, srv, map[string]any{"bucket": bucket, "prefix": "conf/" + newBucketName() + "/"})
		},
		LargeSize: 4 << 20,
	})
}

// STORAGE_EMULATOR_HOST alone points the client at the emulator.
func TestEmulatorHostEnv(t *testing.T) {
	srv := fakegcs.Start(t)
	t.Setenv("STORAGE_EMULATOR_HOST", srv.Host)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	b := New(slog.New(slog.DiscardHandler))
	t.Cleanup(func() { b.Close(context.Background()) })
	if err := b.Configure(t.Context(), configJSON(t, map[string]any{"bucket": newBucketName(), "create_bucket": true, "project_id": "p"})); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(t.Context(), "k", strings.NewReader("via env"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if oi, err := b.Stat(t.Context(), "k"); err != nil || oi.Size != 7 {
		t.Errorf("Stat = %+v, %v", oi, err)
	}
}

// chunkReader yields n chunks of size bytes, calling hook before chunk i.
type chunkReader struct {
	size, n, i int
	off        int
	hook       func(i int) error
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.i == r.n {
		return 0, io.EOF
	}
	if r.off == 0 && r.hook != nil {
		if err := r.hook(r.i); err != nil {
			return 0, err
		}
	}
	k := min(len(p), r.size-r.off)
	for j := range p[:k] {
		p[j] = byte(r.i)
	}
	r.off += k
	if r.off == r.size {
		r.off, r.i = 0, r.i+1
	}
	return k, nil
}

// With small chunks, several chunks of the resumable upload reach the
// server before the failure; still no object may appear, and an existing
// one must keep its content.
func TestInterruptedMultiChunkPut(t *testing.T) {
	srv := fakegcs.Start(t)
	b := newBackend(t, srv, map[string]any{"chunk_size": "256KiB"})
	t.Cleanup(func() { b.Close(context.Background()) })
	ctx := t.Context()
	const chunk = 256 << 10

	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		_, err := b.Put(cctx, "cancelled", &chunkReader{size: chunk, n: 8, hook: func(i int) error {
			if i == 5 {
				cancel()
			}
			return nil
		}}, storage.PutOptions{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Put cancelled after 5 chunks: %v, want context.Canceled", err)
		}
		if _, err := b.Stat(ctx, "cancelled"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Stat after cancelled Put: %v, want ErrNotFound", err)
		}
	})
	t.Run("reader fails", func(t *testing.T) {
		if _, err := b.Put(ctx, "kept", strings.NewReader("old"), storage.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		_, err := b.Put(ctx, "kept", &chunkReader{size: chunk, n: 8, hook: func(i int) error {
			if i == 6 {
				return boom
			}
			return nil
		}}, storage.PutOptions{})
		if !errors.Is(err, boom) {
			t.Errorf("Put from a failing reader: %v, want the reader's error", err)
		}
		rc, _, err := b.Get(ctx, "kept", storage.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != "old" {
			t.Errorf("object after failed overwrite: %d bytes, want the old 3", len(got))
		}
	})
	t.Run("completes", func(t *testing.T) {
		oi, err := b.Put(ctx, "whole", &chunkReader{size: chunk, n: 5}, storage.PutOptions{ContentType: "application/x-test"})
		if err != nil {
			t.Fatal(err)
		}
		if oi.Size != 5*chunk || oi.ContentType != "application/x-test" {
			t.Errorf("Put info %+v", oi)
		}
		rc, _, err := b.Get(ctx, "whole", storage.GetOptions{Range: &storage.Range{Offset: 3*chunk - 1, Length: 2}})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, []byte{2, 3}) {
			t.Errorf("range across a chunk boundary = %v, want [2 3]", got)
		}
	})
	page, err := b.List(ctx, storage.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range page.Objects {
		keys = append(keys, o.Key)
	}
	if strings.Join(keys, " ") != "kept whole" {
		t.Errorf("objects after the interrupted Puts: %v", keys)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  string
		want string
	}{
		{`{}`, "bucket is required"},
		{`{"bucket": "b-ok", "secret_key": "x"}`, `unknown field "secret_key"`},
		{`{"bucket": "B_Upper"}`, "not a valid bucket name"},
		{`{"bucket": "b-ok", "prefix": "no-slash"}`, "prefix"},
		{`{"bucket": "b-ok", "prefix": "/abs/"}`, "prefix"},
		{`{"bucket": "b-ok", "prefix": "a/../"}`, "prefix"},
		{`{"bucket": "b-ok", "endpoint": "ftp://x"}`, "endpoint"},
		{`{"bucket": "b-ok", "endpoint": "http://user:hunter2@x/"}`, "user info"},
		{`{"bucket": "b-ok", "create_bucket": true}`, "project_id"},
		{`{"bucket": "b-ok", "chunk_size": 1000}`, "chunk_size"},
		{`{"bucket": "b-ok", "chunk_size": "4GiB"}`, "chunk_size"},
		{`{"bucket": "b-ok", "chunk_size": "lots"}`, "invalid size"},
		{`{"bucket": "b-ok", "chunk_size": true}`, "chunk_size"},
		{`{"bucket": "b-ok"} {}`, "trailing data"},
		{`{"bucket": "b-ok", "credentials_file": "/nonexistent/creds.json"}`, "credentials_file"},
	} {
		b := New(slog.New(slog.DiscardHandler))
		err := b.Configure(t.Context(), plugin.Config(tc.cfg))
		if !errors.Is(err, plugin.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Configure(%s) = %v, want ErrInvalidConfig mentioning %q", tc.cfg, err, tc.want)
		}
		if strings.Contains(fmt.Sprint(err), "hunter2") {
			t.Errorf("Configure(%s) error reveals a password: %v", tc.cfg, err)
		}
		if _, err := b.Stat(t.Context(), "k"); !errors.Is(err, plugin.ErrNotConfigured) {
			t.Errorf("Stat after failed Configure: %v", err)
		}
		if err := b.Close(t.Context()); err != nil {
			t.Errorf("Close after failed Configure: %v", err)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := parseConfig(plugin.Config(`{"bucket": "b-ok", "endpoint": "http://127.0.0.1:9"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.ChunkSize != DefaultChunkSize || c.Endpoint != "http://127.0.0.1:9/storage/v1/" {
		t.Errorf("defaults: chunk %d, endpoint %q", c.ChunkSize, c.Endpoint)
	}
	c, err = parseConfig(plugin.Config(`{"bucket": "b-ok", "chunk_size": "16MiB", "prefix": "a/b/"}`))
	if err != nil || c.ChunkSize != 16<<20 || c.Prefix != "a/b/" {
		t.Errorf("parsed %+v, %v", c, err)
	}
}

func TestMapErr(t *testing.T) {
	for _, tc := range []struct {
		code     int
		ifAbsent bool
		want     error
	}{
		{http.StatusNotFound, false, storage.ErrNotFound},
		{http.StatusForbidden, false, storage.ErrPermission},
		{http.StatusUnauthorized, false, storage.ErrPermission},
		{http.StatusPreconditionFailed, true, storage.ErrExist},
		{http.StatusRequestedRangeNotSatisfiable, false, storage.ErrInvalidRange},
	} {
		src := fmt.Errorf("wrapped: %w", &googleapi.Error{Code: tc.code, Message: "m"})
		got := mapErr(src, tc.ifAbsent)
		if !errors.Is(got, tc.want) {
			t.Errorf("mapErr(%d) = %v, want %v", tc.code, got, tc.want)
		}
		var ge *googleapi.Error
		if !errors.As(got, &ge) {
			t.Errorf("mapErr(%d) lost the original error", tc.code)
		}
	}
	for _, sentinel := range []error{storage.ErrNotFound, storage.ErrExist, storage.ErrPermission} {
		if got := mapErr(&googleapi.Error{Code: http.StatusPreconditionFailed}, false); errors.Is(got, sentinel) {
			t.Errorf("412 outside IfAbsent mapped to %v", sentinel)
		}
	}
	if got := mapErr(fmt.Errorf("post: %w", context.Canceled), false); !errors.Is(got, context.Canceled) {
		t.Errorf("context error lost: %v", got)
	}
}
