package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nvm-node/nvm-node/plugins/storage-s3/internal/s3test"
	"github.com/nvm-node/nvm-node/plugins/storage-s3/s3store"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
	"github.com/nvm-node/nvm-node/sdk/storagetest"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// prefixes gives every backend of a test run its own folder in the shared
// bucket, so each starts empty.
var prefixes atomic.Int64

func newBackend(t *testing.T, cfg string) *s3store.Backend {
	t.Helper()
	b := s3store.New(quiet())
	if err := b.Configure(t.Context(), plugin.Config(cfg)); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return b
}

func TestConformance(t *testing.T) {
	srv := s3test.Start(t)
	storagetest.Run(t, storagetest.Options{
		New: func(t *testing.T) storage.Backend {
			return newBackend(t, srv.Config("conformance", fmt.Sprintf("run-%d", prefixes.Add(1)), ""))
		},
		Unconfigured: func(t *testing.T) storage.Backend { return s3store.New(quiet()) },
		BadConfig:    plugin.Config(srv.Config("conformance", "x", `"part_size":1024`)),
	})
}

// TestConformanceNoPrefix runs the suite on a bucket root, where keys are
// the bucket's own.
func TestConformanceNoPrefix(t *testing.T) {
	if testing.Short() {
		t.Skip("the prefixed run covers the same code")
	}
	srv := s3test.Start(t)
	storagetest.Run(t, storagetest.Options{
		LargeSize: 12 << 20,
		New: func(t *testing.T) storage.Backend {
			return newBackend(t, srv.Config(fmt.Sprintf("root-%d", prefixes.Add(1)), "", ""))
		},
	})
}

func TestConfigErrors(t *testing.T) {
	const secret = "s3cr3t-value-that-must-not-leak"
	for _, tc := range []struct {
		cfg, want string
	}{
		{`{"bucket":"b-1","regoin":"eu-west-1"}`, `"regoin"`},
		{`{"region":"eu-west-1"}`, "bucket is required"},
		{`{"bucket":"Bad_Bucket"}`, "not a valid S3 bucket name"},
		{`{"bucket":"bkt","secret_access_key":"` + secret + `"}`, "set both or neither"},
		{`{"bucket":"bkt","part_size":1048576}`, "part_size 1048576"},
		{`{"bucket":"bkt","endpoint":"ftp://x"}`, "http:// or https://"},
		{`{"bucket":"bkt","prefix":"/abs"}`, "must not start with /"},
		{`{"bucket":"bkt","endpoint":"https://u:` + secret + `@s3.example"}`, "must not carry credentials"},
		{`{"bucket":"bkt","endpoint":"https://s3.example/%zz` + secret + `"}`, "not a URL"},
		{`{"bucket":"bkt","secret_access_key":123}`, "secret_access_key"},
		{`{"bucket":"bkt"} {}`, "trailing data"},
	} {
		err := s3store.New(quiet()).Configure(t.Context(), plugin.Config(tc.cfg))
		if !errors.Is(err, plugin.ErrInvalidConfig) {
			t.Errorf("Configure(%s) = %v, want ErrInvalidConfig", tc.cfg, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Configure(%s) = %q, want it to mention %q", tc.cfg, err, tc.want)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("Configure error %q contains the secret", err)
		}
	}
}

func TestConfigStringHidesSecret(t *testing.T) {
	c := s3store.Config{Bucket: "b", AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG"}
	for _, s := range []string{c.String(), fmt.Sprintf("%v %+v %#v %s", c, c, c, c)} {
		if strings.Contains(s, "wJalrXUtnFEMI") {
			t.Errorf("formatted config leaks the secret: %s", s)
		}
	}
	if !strings.Contains(c.String(), "AKIDEXAMPLE") {
		t.Errorf("String() = %s, want the access key id (not secret) for diagnosis", c)
	}
}

func TestMissingBucket(t *testing.T) {
	srv := s3test.Start(t)
	cfg := strings.Replace(srv.Config("absent", "", ""), `"create_bucket":true`, `"create_bucket":false`, 1)
	err := s3store.New(quiet()).Configure(t.Context(), plugin.Config(cfg))
	if !errors.Is(err, plugin.ErrInvalidConfig) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Configure on a missing bucket without create_bucket = %v", err)
	}
}

func TestBadCredentials(t *testing.T) {
	srv := s3test.Start(t)
	newBackend(t, srv.Config("creds", "", "")) // creates the bucket
	const wrongSecret = "wrong-secret-do-not-print"
	cfg := strings.Replace(srv.Config("creds", "", ""), s3test.SecretKey, wrongSecret, 1)
	var logs bytes.Buffer
	b := s3store.New(slog.New(slog.NewTextHandler(&logs, nil)))
	if err := b.Configure(t.Context(), plugin.Config(cfg)); err != nil {
		t.Fatalf("Configure with a wrong secret: %v (object calls should report it)", err)
	}
	ctx := t.Context()
	_, err := b.Put(ctx, "k", strings.NewReader("x"), storage.PutOptions{})
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, storage.ErrPermission) {
			t.Errorf("%s with a wrong secret: %v, want ErrPermission", what, err)
		}
		if err != nil && strings.Contains(err.Error(), wrongSecret) {
			t.Errorf("%s error contains the secret: %v", what, err)
		}
	}
	check("Put", err)
	_, _, err = b.Get(ctx, "k", storage.GetOptions{})
	check("Get", err)
	_, err = b.Stat(ctx, "k")
	check("Stat", err)
	_, err = b.List(ctx, storage.ListOptions{})
	check("List", err)
	big := bytes.NewReader(make([]byte, 6<<20)) // multipart path
	_, err = b.Put(ctx, "big", big, storage.PutOptions{})
	check("multipart Put", err)
	if strings.Contains(logs.String(), wrongSecret) {
		t.Errorf("logs contain the secret:\n%s", logs.String())
	}
}

// cancelAfter yields zero bytes and cancels its context once n bytes
// have been read, then keeps yielding.
type cancelAfter struct {
	n      int64
	cancel context.CancelFunc
}

func (r *cancelAfter) Read(p []byte) (int, error) {
	if r.n <= 0 {
		r.cancel()
	}
	p = p[:min(len(p), 1<<20)]
	clear(p)
	r.n -= int64(len(p))
	return len(p), nil
}

// failAfter yields n bytes and then fails.
type failAfter struct{ n int64 }

func (r *failAfter) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("source broke")
	}
	p = p[:min(int64(len(p)), r.n)]
	clear(p)
	r.n -= int64(len(p))
	return len(p), nil
}

func TestAbortedPutLeavesNothing(t *testing.T) {
	srv := s3test.Start(t)
	b := newBackend(t, srv.Config("abort", "p", `"part_size":5242880`))
	for name, mk := range map[string]func(cancel context.CancelFunc) io.Reader{
		"cancelled": func(cancel context.CancelFunc) io.Reader { return &cancelAfter{n: 18 << 20, cancel: cancel} },
		"failed":    func(context.CancelFunc) io.Reader { return &failAfter{n: 18 << 20} },
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			_, err := b.Put(ctx, name, mk(cancel), storage.PutOptions{})
			if err == nil {
				t.Fatal("Put succeeded")
			}
			if name == "cancelled" && !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled Put: %v, want context.Canceled", err)
			}
			if _, err := b.Stat(t.Context(), name); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("Stat after the aborted Put: %v, want ErrNotFound", err)
			}
			ups, err := srv.Uploads(t.Context(), "abort", "p/")
			if err != nil {
				t.Fatal(err)
			}
			if len(ups) != 0 {
				t.Errorf("multipart uploads left behind: %v", ups)
			}
		})
	}
}

func TestMultipart(t *testing.T) {
	srv := s3test.Start(t)
	b := newBackend(t, srv.Config("multi", "", `"part_size":5242880`))
	ctx := t.Context()
	for _, size := range []int{5 << 20, 5<<20 + 1, 10 << 20, 12<<20 + 12345} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i * 7 / 3)
		}
		key := fmt.Sprintf("obj-%d", size)
		oi, err := b.Put(ctx, key, io.MultiReader(bytes.NewReader(data[:100]), bytes.NewReader(data[100:])), storage.PutOptions{ContentType: "application/x-test"})
		if err != nil {
			t.Fatalf("Put %d bytes: %v", size, err)
		}
		parts := (size + 5<<20 - 1) / (5 << 20)
		wantETagSuffix := fmt.Sprintf("-%d\"", parts)
		if parts > 1 && !strings.HasSuffix(oi.ETag, wantETagSuffix) {
			t.Errorf("%d bytes: ETag %s, want a multipart ETag ending %s", size, oi.ETag, wantETagSuffix)
		}
		if oi.Size != int64(size) || oi.ContentType != "application/x-test" {
			t.Errorf("%d bytes: Put info %+v", size, oi)
		}
		rc, _, err := b.Get(ctx, key, storage.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%d bytes: read back %d bytes, %v", size, len(got), err)
		}
		// IfAbsent on an existing key refuses, whichever path the upload takes.
		_, err = b.Put(ctx, key, bytes.NewReader(data), storage.PutOptions{IfAbsent: true})
		if !errors.Is(err, storage.ErrExist) {
			t.Errorf("%d bytes: IfAbsent Put over an existing object: %v, want ErrExist", size, err)
		}
	}
	ups, err := srv.Uploads(ctx, "multi", "")
	if err != nil || len(ups) != 0 {
		t.Errorf("uploads left behind: %v %v", ups, err)
	}
}

func TestPresignLimits(t *testing.T) {
	srv := s3test.Start(t)
	b := newBackend(t, srv.Config("presign", "", ""))
	for _, exp := range []int64{-1, 8 * 24 * 3600} {
		_, err := b.Presign(t.Context(), "k", storage.PresignOptions{Method: "GET", Expires: time.Duration(exp) * time.Second})
		if err == nil {
			t.Errorf("Presign with expiry %ds accepted", exp)
		}
	}
	u, err := b.Presign(t.Context(), "k", storage.PresignOptions{Method: "GET"})
	if err != nil || !strings.Contains(u, "X-Amz-Expires=86400") {
		t.Errorf("default presign = %q, %v; want a 24h URL", u, err)
	}
	if strings.Contains(u, s3test.SecretKey) {
		t.Error("presigned URL contains the secret key")
	}
}
