package asset

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/nvm-node/nvm-node/core/keys"
)

func TestDecodeFileList(t *testing.T) {
	// The access fixture's encrypted list, decrypted with the node's key.
	d := decodeFixture(t, "ddo-access.json")
	enc, _ := d.EncryptedFiles()
	plain, err := keys.DecryptPSKRSA(rsaKey(t), enc)
	if err != nil {
		t.Fatal(err)
	}
	files, err := DecodeFileList(plain)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := FileURL(files, 0); err != nil || u != "https://data.example.org/weather/uk-2011.csv" {
		t.Errorf("FileURL(0) = %q, %v", u, err)
	}
	if u, err := FileURL(files, 1); err != nil || !strings.HasPrefix(u, "cid://") {
		t.Errorf("FileURL(1) = %q, %v", u, err)
	}
	for _, i := range []int{-1, 2} {
		if _, err := FileURL(files, i); !errors.Is(err, ErrNoFile) {
			t.Errorf("FileURL(%d) = %v", i, err)
		}
	}
	if _, err := FileURL([]File{{Index: 0}}, 0); !errors.Is(err, ErrNoFile) {
		t.Errorf("file without URL: %v", err)
	}
	for _, bad := range []string{"", "{}", `"x"`, `[{"url":5}]`, `[{"index":"0"}]`, `[1]`, `[` + strings.Repeat(" ", MaxDDOSize) + `]`} {
		if _, err := DecodeFileList([]byte(bad)); !errors.Is(err, ErrInvalidDDO) {
			t.Errorf("DecodeFileList(%.20q) = %v", bad, err)
		}
	}
	if d.HasDTPFiles() {
		t.Error("access fixture has no DTP files")
	}
	dtp, err := DecodeDDO([]byte(`{"id":"did:nv:` + strings.Repeat("ab", 32) + `","service":[{"type":"metadata","index":0,"attributes":{"main":{"files":[{"index":0},{"index":1,"encryption":"dtp"}]}}}]}`))
	if err != nil || !dtp.HasDTPFiles() {
		t.Errorf("DTP asset: %v", err)
	}
}

// TestFilePasswordStaysSecret: the password of an encrypted file is read from
// the decrypted list but never printed, logged or encoded.
func TestFilePasswordStaysSecret(t *testing.T) {
	const pw = "c2VjcmV0LXBhc3N3b3JkLW9mLTQzLWNoYXJhY3RlcnMteHg"
	files, err := DecodeFileList([]byte(`[{"url":"s3://b/k","encryption":"nvm-aead-v1","password":"` + pw + `"}]`))
	if err != nil {
		t.Fatal(err)
	}
	f := files[0]
	if f.Password.Reveal() != pw || f.Encryption != "nvm-aead-v1" {
		t.Fatalf("decoded %+v", f)
	}
	var logs strings.Builder
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("file", "file", f, "password", f.Password)
	js, _ := json.Marshal(f)
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s", f, f, f, f.Password), logs.String(), string(js)} {
		if strings.Contains(out, pw) || !strings.Contains(out, "[redacted]") {
			t.Errorf("the password shows: %s", out)
		}
	}
}
