package gcsstore

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// FuzzParseConfig: any input is either refused with ErrInvalidConfig or
// yields a configuration whose invariants hold.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		`{"bucket": "b-ok"}`,
		`{"bucket": "b-ok", "prefix": "a/b/", "endpoint": "http://127.0.0.1:4443", "chunk_size": "16MiB"}`,
		`{"bucket": "b.ok_1", "create_bucket": true, "project_id": "p", "chunk_size": 262144}`,
		`{"bucket": "b-ok", "endpoint": "https://h/storage/v1/"}`,
		`{"bucket": "x", "unknown": 1}`,
		``, `null`, `[]`, `{"chunk_size": "9999999999GiB"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := parseConfig(plugin.Config(raw))
		if err != nil {
			if !errors.Is(err, plugin.ErrInvalidConfig) {
				t.Fatalf("error %v does not wrap ErrInvalidConfig", err)
			}
			return
		}
		if !validBucket(c.Bucket) {
			t.Errorf("accepted bucket %q", c.Bucket)
		}
		if c.ChunkSize < minChunkSize || c.ChunkSize > maxChunkSize {
			t.Errorf("accepted chunk size %d", c.ChunkSize)
		}
		if c.Prefix != "" && (!strings.HasSuffix(c.Prefix, "/") || !storage.ValidKey(strings.TrimSuffix(c.Prefix, "/"))) {
			t.Errorf("accepted prefix %q", c.Prefix)
		}
		if c.Endpoint != "" {
			u, err := url.Parse(c.Endpoint)
			if err != nil || u.User != nil || u.Host == "" || !strings.HasSuffix(u.Path, "/") {
				t.Errorf("accepted endpoint %q", c.Endpoint)
			}
		}
		if c.CreateBucket && c.ProjectID == "" {
			t.Error("create_bucket accepted without project_id")
		}
	})
}
