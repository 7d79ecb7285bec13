package s3store

import (
	"errors"
	"strings"
	"testing"

	"github.com/nvm-node/nvm-node/sdk/plugin"
)

func FuzzContentRangeTotal(f *testing.F) {
	for _, s := range []string{"bytes 3-6/10", "bytes 0-0/1", "bytes */10", "bytes 1-2/*", "", "bytes 1-2/-5", "items 1-2/3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		n, ok := contentRangeTotal(h)
		if ok && (n < 0 || !strings.HasPrefix(h, "bytes ")) {
			t.Errorf("contentRangeTotal(%q) = %d, true", h, n)
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		`{"bucket":"b-1"}`, `{"bucket":"b-1","part_size":5242880,"prefix":"p"}`,
		`{"bucket":"bkt","endpoint":"https://u:pw@h"}`, `{"bucket":"bkt","secret_access_key":"pw"}`, `{}`, `[`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := parseConfig(plugin.Config(raw))
		if err != nil {
			if !errors.Is(err, plugin.ErrInvalidConfig) {
				t.Errorf("parseConfig(%q): %v does not wrap ErrInvalidConfig", raw, err)
			}
			return
		}
		if strings.TrimSpace(raw) != "" && (c.Bucket == "" || c.PartSize < MinPartSize || c.PartSize > MaxPartSize) {
			t.Errorf("parseConfig(%q) accepted %v", raw, c)
		}
		if c.Prefix != "" && !strings.HasSuffix(c.Prefix, "/") {
			t.Errorf("prefix %q without a trailing /", c.Prefix)
		}
		// Whatever else the configuration holds, String never shows the
		// secret: mark it and look for the mark.
		const mark = "SECRET-MARK-\u2603"
		c.SecretAccessKey = mark
		if strings.Contains(c.String(), mark) {
			t.Errorf("String() shows the secret: %s", c)
		}
	})
}
