package auth

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The ERC-1271 tests use the committed testdata/wallet/Wallet.bin. This test
// recompiles Wallet.sol with solc-js 0.8.17 and checks the committed bytecode
// is exactly its output (the metadata hash covers the source, so any edit to
// Wallet.sol without rebuilding fails here). CI installs the compiler with:
//
//	npm ci --prefix core/auth/testdata/wallet
func TestWalletBytecodeMatchesSource(t *testing.T) {
	dir := filepath.Join("testdata", "wallet")
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
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "solc", "package.json")); err != nil {
		missing("solc is not installed; run: npm ci --prefix core/auth/testdata/wallet")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "build.mjs"))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build.mjs: %v\n%s", err, stderr.String())
	}
	committed, err := os.ReadFile(filepath.Join(dir, "Wallet.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(stdout.String()), strings.TrimSpace(string(committed)); got != want {
		t.Fatalf("Wallet.bin is stale: solc output differs; rebuild with\n"+
			"  node core/auth/testdata/wallet/build.mjs > core/auth/testdata/wallet/Wallet.bin\n got %.60s…\nwant %.60s…", got, want)
	}
}
