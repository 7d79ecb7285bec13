package s3store

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/nvm-node/nvm-node/sdk/plugin"
)

// Part sizes of multipart uploads. S3 refuses parts below 5 MiB (but the
// last), and allows at most MaxParts parts per object.
const (
	DefaultPartSize = 8 << 20
	MinPartSize     = 5 << 20
	MaxPartSize     = 5 << 30
	MaxParts        = 10000
)

// Config is the plugin's configuration, the "config" mapping of its
// plugins.yaml entry. Unknown keys are refused.
type Config struct {
	// Endpoint is the S3 API URL of an S3-compatible server, e.g.
	// "https://minio.example.com:9000"; empty means AWS.
	Endpoint string `json:"endpoint"`
	// Region defaults to AWS_REGION from the environment, else us-east-1.
	Region string `json:"region"`
	// Bucket holds every object. Required.
	Bucket string `json:"bucket"`
	// PathStyle addresses the bucket in the path (endpoint/bucket/key)
	// rather than the host name, as most S3-compatible servers need.
	PathStyle bool `json:"path_style"`
	// Prefix is a folder inside the bucket under which keys live; a
	// trailing "/" is added when missing.
	Prefix string `json:"prefix"`
	// AccessKeyID and SecretAccessKey are static credentials. Both or
	// neither: without them the AWS default chain applies (AWS_* variables
	// granted to the plugin, web identity, instance metadata).
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	// CreateBucket creates the bucket at Configure when it is missing.
	CreateBucket bool `json:"create_bucket"`
	// PartSize is the multipart part size in bytes (default 8 MiB, at
	// least 5 MiB). Put buffers at most two parts at a time, and an object
	// may have at most MaxParts parts.
	PartSize int64 `json:"part_size"`
}

// String describes c without its secret, so a Config is safe to log.
func (c Config) String() string {
	secret := ""
	if c.SecretAccessKey != "" {
		secret = " secret_access_key=<redacted>"
	}
	return fmt.Sprintf("s3 config{endpoint=%q region=%q bucket=%q prefix=%q path_style=%t access_key_id=%q%s create_bucket=%t part_size=%d}",
		c.Endpoint, c.Region, c.Bucket, c.Prefix, c.PathStyle, c.AccessKeyID, secret, c.CreateBucket, c.PartSize)
}

// GoString keeps %#v from printing the secret too.
func (c Config) GoString() string { return c.String() }

// parseConfig decodes and checks raw, filling in defaults. Its errors wrap
// plugin.ErrInvalidConfig and never quote the secret.
func parseConfig(raw plugin.Config) (Config, error) {
	var c Config
	if err := raw.Decode(&c); err != nil {
		return Config{}, err
	}
	bad := func(format string, a ...any) (Config, error) {
		return Config{}, fmt.Errorf("%w: %s", plugin.ErrInvalidConfig, fmt.Sprintf(format, a...))
	}
	switch {
	case c.Bucket == "":
		return bad("bucket is required")
	case !validBucket(c.Bucket):
		return bad("bucket %q is not a valid S3 bucket name", c.Bucket)
	case (c.AccessKeyID == "") != (c.SecretAccessKey == ""):
		return bad("access_key_id and secret_access_key go together: set both or neither")
	case c.PartSize != 0 && (c.PartSize < MinPartSize || c.PartSize > MaxPartSize):
		return bad("part_size %d is outside [%d, %d] bytes", c.PartSize, MinPartSize, MaxPartSize)
	case strings.HasPrefix(c.Prefix, "/"):
		return bad("prefix %q must not start with /", c.Prefix)
	}
	if c.Endpoint != "" {
		// Checked before the endpoint is quoted in any message, as a URL
		// may carry a password.
		u, err := url.Parse(c.Endpoint)
		switch {
		case err != nil:
			return bad("endpoint is not a URL")
		case u.User != nil:
			return bad("endpoint must not carry credentials (use access_key_id and secret_access_key)")
		case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
			return bad("endpoint %q must be an http:// or https:// URL", c.Endpoint)
		}
	}
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	if c.Prefix != "" && !strings.HasSuffix(c.Prefix, "/") {
		c.Prefix += "/"
	}
	return c, nil
}

// validBucket applies S3's general-purpose bucket naming rules (loosely:
// the server has the last word).
func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i, r := range b {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case (r == '-' || r == '.') && i > 0 && i < len(b)-1:
		default:
			return false
		}
	}
	return true
}
