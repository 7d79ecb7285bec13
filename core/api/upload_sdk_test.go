package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nvm-node/nvm-node/core/api"
)

// sdkModules is where the metadata interop test's npm project installs the
// official SDK; this test reuses it rather than installing it twice.
const sdkModules = "../asset/testdata/sdk-interop/node_modules"

// TestUploadWithOfficialSDK: the official SDK 3.1.2 uploads files (from a
// stream, encrypt sent after the file) and messages, plain and encrypted,
// and what the node stores is what it sent.
func TestUploadWithOfficialSDK(t *testing.T) {
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but "+format, args...)
		}
		t.Skipf(format+" (set CI=true to make this a failure)", args...)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(sdkModules, "@nevermined-io", "sdk", "package.json")); err != nil {
		missing("@nevermined-io/sdk is not installed; run: npm ci --prefix core/asset/testdata/sdk-interop")
	}
	mem := newMem(t)
	f := newUploadFixture(t, func(c *api.Config) {
		c.Upload.Targets = map[string]api.UploadTarget{"s3": {Backend: mem, URLPrefix: "s3://nvm-assets/", Writable: true}}
	})
	f.mem = mem
	// Larger than max_body_bytes (64 KiB here), so the unencrypted file
	// takes the path where it is stored encrypted until the body ends.
	data := append(allByteValues(), randomBytes(t, 300<<10)...)
	file := filepath.Join(t.TempDir(), "payload.bin")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	modules, _ := filepath.Abs(sdkModules)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "testdata/sdk-upload.cjs", f.srv.URL, file)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var got struct {
		File, FileEncrypted, Message, MessageEncrypted uploadAnswer
		IPFS                                           string `json:"ipfs"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	f.prefix = "s3://nvm-assets/"
	for name, tc := range map[string]struct {
		a       uploadAnswer
		want    []byte
		encrypt bool
	}{
		"file":              {got.File, data, false},
		"encrypted file":    {got.FileEncrypted, data, true},
		"message":           {got.Message, []byte("a message from the SDK"), false},
		"encrypted message": {got.MessageEncrypted, []byte("a secret message from the SDK"), true},
	} {
		if tc.encrypt != (len(tc.a.Password) == 43) {
			t.Fatalf("%s: answer %+v", name, tc.a)
		}
		if p := f.plain(tc.a); !bytes.Equal(p, tc.want) {
			t.Fatalf("%s: stored %d bytes, want %d", name, len(p), len(tc.want))
		}
	}
	if !strings.HasSuffix(got.File.URL, "/payload.bin") || !strings.HasSuffix(got.FileEncrypted.URL, "/payload.bin.encrypted") {
		t.Fatalf("file URLs %q, %q do not keep the file name", got.File.URL, got.FileEncrypted.URL)
	}
	if !strings.Contains(got.IPFS, "Backend ipfs not supported") {
		t.Fatalf("upload to an undeclared backend: %s", got.IPFS)
	}
}
