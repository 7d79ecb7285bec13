package gcsstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// DefaultChunkSize is the resumable upload chunk size when the
// configuration sets none: each Put in flight holds one such buffer.
const DefaultChunkSize = 8 << 20

// Bounds of chunk_size. The client rounds a chunk up to a multiple of
// 256 KiB; a chunk above the maximum is almost surely a typo that would cost
// that much memory per concurrent upload.
const (
	minChunkSize = 256 << 10
	maxChunkSize = 512 << 20
)

// Config is the plugin's configuration (the "config" mapping of its
// plugins.yaml entry). Unknown keys are refused.
type Config struct {
	// Bucket holds every object of this backend. Required.
	Bucket string `json:"bucket"`
	// Prefix is prepended to every key to form the object name, so several
	// backends can share a bucket. Empty, or a valid key followed by "/".
	Prefix string `json:"prefix"`
	// Endpoint overrides the JSON API endpoint, for an emulator or a
	// private endpoint, e.g. "http://127.0.0.1:4443/storage/v1/" (a URL
	// without a path gets "/storage/v1/"). The STORAGE_EMULATOR_HOST
	// environment variable works too.
	Endpoint string `json:"endpoint"`
	// CredentialsFile is a JSON credentials file (a service account key,
	// or another type Google's auth library accepts). Empty means
	// Application Default Credentials, or no authentication when an
	// emulator or endpoint is configured and GOOGLE_APPLICATION_CREDENTIALS
	// is unset.
	CredentialsFile string `json:"credentials_file"`
	// ProjectID owns the bucket created by CreateBucket.
	ProjectID string `json:"project_id"`
	// CreateBucket creates the bucket at Configure if it does not exist.
	CreateBucket bool `json:"create_bucket"`
	// ChunkSize is the resumable upload chunk size: a number of bytes or a
	// string such as "8MiB". Zero means DefaultChunkSize.
	ChunkSize ByteSize `json:"chunk_size"`
}

// ByteSize is chunk_size's type: bytes, written in JSON as a number or as
// a string with a unit ("256KiB", "8MiB", "1GiB").
type ByteSize int64

// UnmarshalJSON implements json.Unmarshaler.
func (b *ByteSize) UnmarshalJSON(data []byte) error {
	if bytes.HasPrefix(data, []byte{'"'}) {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		n, err := parseSize(s)
		if err != nil {
			return err
		}
		*b = ByteSize(n)
		return nil
	}
	var n int64
	if err := json.Unmarshal(data, &n); err != nil {
		return fmt.Errorf("chunk_size %s is not a whole number of bytes or a string like \"8MiB\"", data)
	}
	*b = ByteSize(n)
	return nil
}

func parseSize(s string) (int64, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.m
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("chunk_size: invalid size %q (want e.g. 8MiB)", s)
	}
	return n * mult, nil
}

// parseConfig decodes and checks a raw configuration and fills defaults.
// Its errors wrap plugin.ErrInvalidConfig and name the offending key.
func parseConfig(raw plugin.Config) (Config, error) {
	var c Config
	if err := raw.Decode(&c); err != nil {
		return c, err
	}
	bad := func(format string, args ...any) (Config, error) {
		return c, fmt.Errorf("%w: %s", plugin.ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if c.Bucket == "" {
		return bad("bucket is required")
	}
	if !validBucket(c.Bucket) {
		return bad("bucket %q is not a valid bucket name", c.Bucket)
	}
	if c.Prefix != "" && (!strings.HasSuffix(c.Prefix, "/") || !storage.ValidKey(strings.TrimSuffix(c.Prefix, "/"))) {
		return bad("prefix %q must be empty or a slash-separated path ending in \"/\" (no leading slash, no empty, \".\" or \"..\" element)", c.Prefix)
	}
	if len(c.Prefix) > storage.MaxKeyLen/2 {
		return bad("prefix is longer than %d bytes", storage.MaxKeyLen/2)
	}
	if c.Endpoint != "" {
		ep, err := normalizeEndpoint(c.Endpoint)
		if err != nil {
			return bad("endpoint: %v", err)
		}
		c.Endpoint = ep
	}
	if c.CreateBucket && c.ProjectID == "" {
		return bad("create_bucket needs project_id")
	}
	switch {
	case c.ChunkSize == 0:
		c.ChunkSize = DefaultChunkSize
	case c.ChunkSize < minChunkSize || c.ChunkSize > maxChunkSize:
		return bad("chunk_size %d is outside [%d, %d] bytes", c.ChunkSize, minChunkSize, maxChunkSize)
	}
	return c, nil
}

// validBucket checks GCS's naming rules that matter for building URLs:
// 3-222 bytes of lower-case letters, digits, '-', '_' and '.', starting and
// ending with a letter or digit.
func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 222 {
		return false
	}
	for i, r := range b {
		alnum := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		if (i == 0 || i == len(b)-1) && !alnum {
			return false
		}
		if !alnum && r != '-' && r != '_' && r != '.' {
			return false
		}
	}
	return true
}

// normalizeEndpoint checks an endpoint URL and gives a bare host the JSON
// API path. User info is refused: it would be a secret in the config that
// the client then logs in errors.
func normalizeEndpoint(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("want an http(s) URL such as http://127.0.0.1:4443/storage/v1/")
	}
	if u.User != nil {
		return "", errors.New("must not contain user info")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("must not have a query or fragment")
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/storage/v1/"
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u.String(), nil
}

// objectName maps a key to the object's name in the bucket.
func (c *Config) objectName(key string) (string, bool) {
	name := c.Prefix + key
	// GCS names are at most 1024 bytes of UTF-8.
	return name, storage.ValidKey(key) && len(name) <= 1024 && utf8.ValidString(name)
}
