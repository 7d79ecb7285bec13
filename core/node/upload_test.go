package node_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nvm-node/nvm-node/core/filecrypt"
	"github.com/nvm-node/nvm-node/core/keys"
	"github.com/nvm-node/nvm-node/core/pluginhost"
)

// TestUploadsThroughPlugins: uploads reach the storage plugins of
// plugins.yaml (a third-party process plugin and the builtin local one)
// through the whole node, answer URLs under each plugin's prefix, and a
// file uploaded in plaintext is then served by the download endpoint.
func TestUploadsThroughPlugins(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "storage-example")
	build := exec.Command("go", "build", "-o", bin, "./examples/storage-process")
	build.Dir = "../../sdk"
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the example plugin: %v\n%s", err, out)
	}
	sum, err := fileSHA256(bin)
	if err != nil {
		t.Fatal(err)
	}
	localRoot, exampleRoot := filepath.Join(dir, "local"), filepath.Join(dir, "example")
	yaml := fmt.Sprintf(`plugins:
  - id: storage.local
    runtime: builtin
    config: {root: %q, create: true}
    urls: ["file:///srv/uploads/"]
  - id: storage.example
    runtime: process
    path: %s
    sha256: %s
    config: {root: %q, create: true}
`, localRoot, bin, sum, exampleRoot)
	plugins, err := pluginhost.Parse([]byte(yaml), dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := referenceConfig(t)
	cfg.Plugins = plugins
	cfg.Asset.StorePath = filepath.Join(dir, "metadata.db")
	r := start(t, cfg)

	data := make([]byte, 2<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	plain := postFile(t, r.url+"/api/v1/node/services/upload/example", "data.bin", data, false)
	key, ok := strings.CutPrefix(plain.URL, "example://")
	if !ok || plain.Password != "" || !strings.HasSuffix(key, "/data.bin") {
		t.Fatalf("plain upload answered %+v", plain)
	}
	if got, err := os.ReadFile(filepath.Join(exampleRoot, filepath.FromSlash(key))); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the process plugin did not store the file: %v", err)
	}

	sealed := postFile(t, r.url+"/api/v1/node/services/upload/local", "data.bin", data, true)
	key, ok = strings.CutPrefix(sealed.URL, "file:///srv/uploads/")
	if !ok || len(sealed.Password) != 43 || !strings.HasSuffix(key, "/data.bin.encrypted") {
		t.Fatalf("encrypted upload answered %+v", sealed)
	}
	f, err := os.Open(filepath.Join(localRoot, filepath.FromSlash(key)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec, err := filecrypt.NewReader(f, sealed.Password)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(dec); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the stored object does not decrypt to the file: %v", err)
	}
	if strings.Contains(r.logs.String(), sealed.Password) {
		t.Fatal("the password reached the node's log")
	}

	if code, body := postStatus(t, r.url+"/api/v1/node/services/upload/ipfs", "x", []byte("x")); code != 400 || !strings.Contains(body, "Backend ipfs not supported") {
		t.Fatalf("unknown backend: %d %s", code, body)
	}

	// Serve the plaintext upload as an asset's file: the store is opened
	// by one process at a time, so the node is restarted around seeding.
	r.stop()
	select {
	case err := <-r.done:
		r.done <- err // for start's cleanup
	case <-time.After(15 * time.Second):
		t.Fatal("node did not stop")
	}
	kr, err := keys.LoadKeyring(keys.Sources{ProviderKeyfile: cfg.Keys.ProviderKeyfile, ProviderPassword: cfg.Keys.ProviderPassword, RSAPrivateKeyFile: cfg.Keys.RSAPrivateKeyFile})
	if err != nil {
		t.Fatal(err)
	}
	did := seedAsset(t, cfg.Asset.StorePath, kr, []string{plain.URL})
	r = start(t, cfg)
	code, body := getBody(t, r.url+"/api/v1/node/services/download/0", downloadToken(t, did))
	if code != 200 || body != string(data) {
		t.Fatalf("downloading the uploaded file: %d, %d bytes", code, len(body))
	}
}

type uploaded struct {
	URL      string `json:"url"`
	Password string `json:"password"`
}

// postFile uploads as the SDK's uploadFile does: the file part, then
// encrypt when asked.
func postFile(t *testing.T, url, name string, data []byte, encrypt bool) uploaded {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, _ := mw.CreateFormFile("file", name)
	w.Write(data)
	if encrypt {
		mw.WriteField("encrypt", "true")
	}
	mw.Close()
	resp, err := http.Post(url, mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	var u uploaded
	if err := json.Unmarshal(b, &u); err != nil {
		t.Fatal(err)
	}
	return u
}

func postStatus(t *testing.T, url, name string, data []byte) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, _ := mw.CreateFormFile("file", name)
	w.Write(data)
	mw.Close()
	resp, err := http.Post(url, mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
