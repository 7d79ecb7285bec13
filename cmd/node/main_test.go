package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nvm-node/nvm-node/core/keys"
)

// nodeBin is the node binary, built once for these end-to-end tests.
var nodeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nvm-node-bin")
	if err != nil {
		panic(err)
	}
	nodeBin = filepath.Join(dir, "node")
	if out, err := exec.Command("go", "build", "-o", nodeBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the node: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run runs the node binary with a clean environment plus env.
func run(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

const reference = "../../../shared/testdata/reference"

func referenceEnv() []string {
	ks, _ := os.ReadFile(filepath.Join(reference, "provider-keystore.json"))
	return []string{
		"PROVIDER_KEYFILE=" + string(ks), // the reference passes the JSON text itself
		"PROVIDER_PASSWORD=secret",
		"RSA_PRIVKEY_FILE=" + filepath.Join(reference, "rsa_priv_key.pem"),
		"JWT_SECRET_KEY=" + strings.Repeat("s3cr3t", 8),
		"WEB3_PROVIDER_URL=https://rpc.example/v3/APIKEY123",
	}
}

func TestVersionAndHelp(t *testing.T) {
	out, _, code := run(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "nvm-node ") {
		t.Fatalf("version: %d %q", code, out)
	}
	for _, sub := range []string{"serve", "dev", "config", "keys generate", "version"} {
		out, _, code := run(t, nil, append(strings.Fields(sub), "--help")...)
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("%s --help: %d %q", sub, code, out)
		}
	}
}

func TestConfigRedactsSecrets(t *testing.T) {
	out, errOut, code := run(t, append(referenceEnv(), "ESTUARY_TOKEN=abc"), "config")
	if code != 0 {
		t.Fatalf("config: %d %s", code, errOut)
	}
	for _, secret := range []string{"secret\n", "s3cr3t", "APIKEY123", "ciphertext"} {
		if strings.Contains(out, secret) {
			t.Errorf("node config printed a secret (%q):\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "rpc_url: https://rpc.example/<redacted>") || !strings.Contains(out, "jwt_secret: <redacted>") {
		t.Errorf("unexpected config output:\n%s", out)
	}
	if !strings.Contains(errOut, "ESTUARY_TOKEN") || strings.Contains(errOut, "abc") {
		t.Errorf("ignored reference variable not warned about, or its value shown: %q", errOut)
	}
}

func TestConfigProblemsExit2(t *testing.T) {
	yaml := filepath.Join(t.TempDir(), "node.yaml")
	if err := os.WriteFile(yaml, []byte("server:\n  prot: 80\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, append(referenceEnv(), "NVM_LOG__LEVL=debug"), "config", "--config", yaml, "--set", "server.port=abc")
	if code != 2 {
		t.Fatalf("exit code %d; want 2\n%s", code, errOut)
	}
	for _, want := range []string{`"server.prot"`, yaml, `"log.levl"`, "NVM_LOG__LEVL"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestKeysGenerate(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("correct horse battery\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "keys")
	stdout, errOut, code := run(t, nil, "keys", "generate", "--out", out, "--password-file", pw, "--light", "--rsa-bits", "2048")
	if code != 0 {
		t.Fatalf("keys generate: %d %s", code, errOut)
	}
	m := regexp.MustCompile(`provider address: (0x[0-9a-fA-F]{40})`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no address printed: %q", stdout)
	}
	for _, f := range []string{"provider-keystore.json", "rsa_priv_key.pem", "rsa_pub_key.pem"} {
		st, err := os.Stat(filepath.Join(out, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, err, st)
		}
	}
	kr, err := keys.LoadKeyring(keys.Sources{
		ProviderKeyfile: filepath.Join(out, "provider-keystore.json"), ProviderPassword: "correct horse battery",
		RSAPrivateKeyFile: filepath.Join(out, "rsa_priv_key.pem"), RSAPublicKeyFile: filepath.Join(out, "rsa_pub_key.pem"),
	})
	if err != nil {
		t.Fatalf("generated keys do not load: %v", err)
	}
	if kr.Address().Hex() != m[1] {
		t.Fatalf("printed address %s, keystore holds %s", m[1], kr.Address().Hex())
	}
	if _, _, code := run(t, nil, "keys", "generate", "--out", out, "--password-file", pw, "--light"); code == 0 {
		t.Fatal("keys generate overwrote existing keys")
	}
	if _, errOut, code := run(t, nil, "keys", "generate", "--out", filepath.Join(dir, "k2")); code == 0 || !strings.Contains(errOut, "password") {
		t.Fatalf("keys generate without a password: %d %s", code, errOut)
	}
}

// TestDevNodeEndToEnd runs `node dev` as a real process: it answers, keeps its
// identity across restarts, and exits 0 on SIGTERM.
func TestDevNodeEndToEnd(t *testing.T) {
	dataDir := t.TempDir()
	first := startDev(t, dataDir)
	info := getJSON(t, first.url+"/")
	addr := info["provider-address"]
	contracts, _ := info["contracts"].([]any)
	if info["chain-available"] != true || info["chain-id"] != float64(8996) || info["network"] != "spree" || len(contracts) < 29 {
		t.Fatalf("the dev node's chain is not up with the contracts deployed: %v", info)
	}
	resp, err := http.Post(first.url+"/api/v1/node/services/encrypt", "application/json", strings.NewReader(`{"method":"PSK-RSA","message":"hi"}`))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("encrypt on the dev node: %v %v", err, resp)
	}
	resp.Body.Close()
	// `node demo`: publish, refuse the unpaid, order and pay, authorize, download.
	// No --node: the demo finds the dev node through the URL it recorded.
	if b, err := os.ReadFile(filepath.Join(dataDir, "node.url")); err != nil || strings.TrimSpace(string(b)) != first.url {
		t.Fatalf("the dev node recorded %q (%v); it listens on %s", b, err, first.url)
	}
	out, errOut, code := run(t, nil, "demo", "--data-dir", dataDir)
	if code != 0 || !strings.Contains(out, "demo complete") || !strings.Contains(out, "identical to the file") {
		t.Fatalf("node demo: exit %d\n%s\n%s", code, out, errOut)
	}
	sdkUploadToDevNode(t, first.url, dataDir)
	first.stop(t)

	second := startDev(t, dataDir)
	again := getJSON(t, second.url+"/")
	if again["provider-address"] != addr {
		t.Fatalf("identity changed across restarts: %v then %v", addr, again["provider-address"])
	}
	if fmt.Sprint(again["contracts"]) != fmt.Sprint(info["contracts"]) {
		t.Fatalf("contracts redeployed on restart:\n%v\n%v", info["contracts"], again["contracts"])
	}
	second.stop(t)
}

type devProcess struct {
	cmd *exec.Cmd
	url string
}

var listenRE = regexp.MustCompile(`"node listening".*addr=(\S+)`)

func startDev(t *testing.T, dataDir string) *devProcess {
	t.Helper()
	cmd := exec.Command(nodeBin, "dev", "--data-dir", dataDir, "--port", "0", "--rpc-addr", "127.0.0.1:0")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	found := make(chan string, 1)
	var mu sync.Mutex
	var lines []string
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case a := <-found:
		return &devProcess{cmd: cmd, url: "http://" + a}
	case <-time.After(90 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("node dev did not start listening; it printed:\n%s", strings.Join(lines, "\n"))
	}
	return nil
}

func (p *devProcess) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("node dev exited badly on SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("node dev did not exit on SIGTERM")
	}
}

func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPluginsListAndCheck(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("plugins:\n  - id: storage.local\n    runtime: builtin\n    config: {root: "+filepath.Join(dir, "data")+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, nil, "plugins", "list", "--plugins", good)
	if code != 0 || !strings.Contains(out, "storage.local") {
		t.Fatalf("list of a good file: %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = run(t, nil, "plugins", "check", "--plugins", good)
	if code != 0 || !strings.Contains(out, "storage.local") || !strings.Contains(out, "ok") {
		t.Fatalf("check of a good file: %d\n%s\n%s", code, out, errOut)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("plugins:\n  - id: storage.x\n    runtime: process\n    path: "+nodeBin+"\n    sha256: "+strings.Repeat("0", 64)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, code = run(t, nil, "plugins", "list", "--plugins", bad)
	if code != 1 || !strings.Contains(out, "MISMATCH") {
		t.Fatalf("list: %d\n%s", code, out)
	}
	out, errOut, code = run(t, nil, "plugins", "check", "--plugins", bad)
	if code == 0 || !strings.Contains(out, "checksum mismatch") {
		t.Fatalf("check of a tampered plugin: %d\n%s\n%s", code, out, errOut)
	}
}

func TestKeysImport(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("correct horse battery\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A well-known test key (the first Hardhat/Anvil account).
	const hexKey = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
	const want = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
	kf := filepath.Join(dir, "key.hex")
	if err := os.WriteFile(kf, []byte(hexKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "keys")
	stdout, errOut, code := run(t, nil, "keys", "import", "--key-file", kf, "--out", out, "--password-file", pw, "--light")
	if code != 0 || !strings.Contains(stdout, want) {
		t.Fatalf("keys import: %d %q %q", code, stdout, errOut)
	}
	if strings.Contains(stdout+errOut, hexKey[2:]) {
		t.Fatal("keys import printed the private key")
	}
	ks := filepath.Join(out, "provider-keystore.json")
	if st, err := os.Stat(ks); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("keystore: %v %v", err, st)
	}
	if _, _, code := run(t, nil, "keys", "import", "--key-file", kf, "--out", out, "--password-file", pw, "--light"); code == 0 {
		t.Fatal("keys import overwrote an existing keystore")
	}
	bad := filepath.Join(dir, "bad.hex")
	if err := os.WriteFile(bad, []byte("0x1234zz"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := run(t, nil, "keys", "import", "--key-file", bad, "--out", filepath.Join(dir, "k2"), "--password-file", pw); code == 0 || strings.Contains(errOut, "1234zz") {
		t.Fatalf("a bad key: exit %d, %q", code, errOut)
	}
	// The raw key given where the node expects a keystore says what to do.
	env := append(referenceEnv(), "PROVIDER_KEYFILE="+hexKey, "WEB3_PROVIDER_URL=http://127.0.0.1:1")
	_, errOut, code = run(t, env, "serve", "--port", "0")
	if code != 2 || !strings.Contains(errOut, "node keys import") || strings.Contains(errOut, hexKey[2:]) {
		t.Fatalf("serve with a raw key as keystore: exit %d, %q", code, errOut)
	}
}

// sdkUploadToDevNode runs the official SDK's uploadContent (as s3 and ipfs,
// names the SDK can send) against a dev node on its defaults: both land in
// the dev node's local storage under its data dir.
func sdkUploadToDevNode(t *testing.T, nodeURL, dataDir string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("Node.js is needed for the SDK upload check (CI installs it)")
	}
	modules, _ := filepath.Abs("../../core/asset/testdata/sdk-interop/node_modules")
	if _, err := os.Stat(modules); err != nil {
		t.Fatalf("the SDK is not installed (make deps): %v", err)
	}
	file := filepath.Join(t.TempDir(), "data.bin")
	data := bytes.Repeat([]byte("nvm\x00\xff"), 40000)
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "../../core/api/testdata/sdk-upload.cjs", nodeURL, file)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("SDK upload to the dev node: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var got struct {
		File struct{ URL, Password string }
		IPFS string `json:"ipfs"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	key, ok := strings.CutPrefix(got.File.URL, "local://")
	if !ok || got.File.Password != "" {
		t.Fatalf("SDK upload answered %+v; want a local:// URL and no password", got.File)
	}
	stored, err := os.ReadFile(filepath.Join(dataDir, "files", key))
	if err != nil || !bytes.Equal(stored, data) {
		t.Fatalf("the uploaded file is not in the dev node's local storage: %v (%d bytes)", err, len(stored))
	}
	if got.IPFS != "accepted" {
		t.Fatalf("an SDK upload to ipfs on the dev node: %s", got.IPFS)
	}
}
