package keys

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The interop tests run testdata/interop/*.mjs with node. The lead's CI
// installs the npm side with: npm ci --prefix core/keys/testdata/interop

const interopDir = "testdata/interop"

// requireNode returns the node binary, skipping the test when node (or, with
// needModules, the installed npm packages) is missing, except under CI=true,
// where a missing prerequisite is a failure rather than a silent pass.
func requireNode(t *testing.T, needModules bool) string {
	t.Helper()
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
	if needModules {
		if _, err := os.Stat(filepath.Join(interopDir, "node_modules", "eciesjs", "package.json")); err != nil {
			missing("eciesjs is not installed; run: npm ci --prefix core/keys/testdata/interop")
		}
	}
	return node
}

// runNode sends req as JSON to script on stdin and decodes its JSON stdout.
func runNode(t *testing.T, node, script string, req, resp any) {
	t.Helper()
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(interopDir, script))
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\nstderr: %s", script, err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), resp); err != nil {
		t.Fatalf("node %s: bad JSON output %q: %v", script, stdout.String(), err)
	}
}

func interopMessages(nonASCII bool) [][]byte {
	msgs := [][]byte{
		{},
		[]byte("hello"),
		[]byte(`[{"index":0,"contentType":"text/plain","url":"https://example.com/a.txt"},{"index":1,"contentType":"application/json","url":"s3://bucket/b.json"}]`),
		[]byte(strings.Repeat("0123456789abcdef", 16)),
		[]byte(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 200)), // ~9 KiB
	}
	if nonASCII {
		msgs = append(msgs, []byte("café 日本 — ✓ \x00\x01 Ωμέγα"))
	}
	return msgs
}

func b64All(msgs [][]byte) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = base64.StdEncoding.EncodeToString(m)
	}
	return out
}

func checkMessages(t *testing.T, what string, got []string, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d messages, want %d", what, len(got), len(want))
	}
	for i, g := range got {
		b, err := base64.StdEncoding.DecodeString(g)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, want[i]) {
			t.Fatalf("%s: message %d = %q, want %q", what, i, b, want[i])
		}
	}
}

func TestInteropPSKRSANode(t *testing.T) {
	node := requireNode(t, false)
	kr := refKeyring(t)
	msgs := interopMessages(true)

	t.Run("node encrypts, Go decrypts", func(t *testing.T) {
		var resp struct{ Hashes []string }
		runNode(t, node, "psk-rsa.mjs", map[string]any{"mode": "encrypt", "publicKeyPem": kr.RSAPublicKeyPEM(), "messages": b64All(msgs)}, &resp)
		if len(resp.Hashes) != len(msgs) {
			t.Fatalf("%d hashes, want %d", len(resp.Hashes), len(msgs))
		}
		for i, h := range resp.Hashes {
			got, err := kr.DecryptPSKRSA(h)
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if !bytes.Equal(got, msgs[i]) {
				t.Fatalf("message %d = %q, want %q", i, got, msgs[i])
			}
		}
	})
	t.Run("Go encrypts, node decrypts", func(t *testing.T) {
		hashes := make([]string, len(msgs))
		for i, m := range msgs {
			h, err := kr.EncryptPSKRSA(m)
			if err != nil {
				t.Fatal(err)
			}
			hashes[i] = h
		}
		var resp struct{ Messages []string }
		runNode(t, node, "psk-rsa.mjs", map[string]any{"mode": "decrypt", "privateKeyPem": string(readRef(t, "rsa_priv_key.pem")), "hashes": hashes}, &resp)
		checkMessages(t, "node decrypt", resp.Messages, msgs)
	})
	t.Run("node decrypts the reference vectors", func(t *testing.T) {
		// Guards the independent implementation itself: it must agree with the
		// reference node on the recorded hashes.
		vectors := pskRSAVectors(t)
		hashes := make([]string, len(vectors))
		want := make([][]byte, len(vectors))
		for i, v := range vectors {
			hashes[i] = v.Hash
			want[i] = []byte(v.ReferenceDecryptsTo)
			if v.ReferenceLatin1Hex != "" {
				want[i] = mustHex(t, v.ReferenceLatin1Hex)
			}
		}
		var resp struct{ Messages []string }
		runNode(t, node, "psk-rsa.mjs", map[string]any{"mode": "decrypt", "privateKeyPem": string(readRef(t, "rsa_priv_key.pem")), "hashes": hashes}, &resp)
		checkMessages(t, "node decrypt of reference", resp.Messages, want)
	})
}

func TestInteropPSKECDSAEciesjs(t *testing.T) {
	node := requireNode(t, true)
	kr := refKeyring(t)
	msgs := interopMessages(true)
	pubHex := strings.TrimPrefix(kr.ECDSAPublicKeyHex(), "0x")

	t.Run("eciesjs encrypts, Go decrypts", func(t *testing.T) {
		var resp struct {
			Hashes  []string
			Version string
		}
		runNode(t, node, "ecies.mjs", map[string]any{"mode": "encrypt", "publicKeyHex": pubHex, "messages": b64All(msgs)}, &resp)
		if resp.Version != "0.4.6" {
			t.Fatalf("eciesjs version %q, want 0.4.6", resp.Version)
		}
		if len(resp.Hashes) != len(msgs) {
			t.Fatalf("%d hashes, want %d", len(resp.Hashes), len(msgs))
		}
		for i, h := range resp.Hashes {
			got, err := kr.DecryptPSKECDSA(h)
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if !bytes.Equal(got, msgs[i]) {
				t.Fatalf("message %d = %q, want %q", i, got, msgs[i])
			}
		}
	})
	t.Run("Go encrypts, eciesjs decrypts", func(t *testing.T) {
		hashes := make([]string, len(msgs))
		for i, m := range msgs {
			h, err := kr.EncryptPSKECDSA(m)
			if err != nil {
				t.Fatal(err)
			}
			hashes[i] = h
		}
		privHex := hexKey(kr)
		var resp struct {
			Messages []string
			Version  string
		}
		runNode(t, node, "ecies.mjs", map[string]any{"mode": "decrypt", "privateKeyHex": privHex, "hashes": hashes}, &resp)
		if resp.Version != "0.4.6" {
			t.Fatalf("eciesjs version %q, want 0.4.6", resp.Version)
		}
		checkMessages(t, "eciesjs decrypt", resp.Messages, msgs)
	})
}

// hexKey is the reference provider's private key for the node side of the test
// (a published test key).
func hexKey(kr *Keyring) string {
	return hex.EncodeToString(kr.PrivateKey().D.FillBytes(make([]byte, 32)))
}
