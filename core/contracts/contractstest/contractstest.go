// Package contractstest gives tests the compiled Nevermined contracts, built
// through tools/contracts/build.sh (cached after the first run).
//
// When node or npm is missing the test is skipped, unless the environment
// variable CI is "true", where a missing prerequisite fails the test instead:
// CI must not pass by skipping.
package contractstest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/nvm-node/nvm-node/core/contracts"
)

// Path returns the path of the compiled contracts file, building it if
// needed. A file named by contracts.EnvDir is used as is.
func Path(tb testing.TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatalf("contractstest: %v", err)
	}
	root, err := contracts.RepoRoot(wd)
	if err != nil {
		tb.Fatalf("contractstest: %v", err)
	}
	if os.Getenv(contracts.EnvDir) != "" {
		p, err := contracts.Locate(root)
		if err != nil {
			tb.Fatalf("contractstest: %s is set: %v", contracts.EnvDir, err)
		}
		return p
	}
	if p, err := contracts.Locate(root); err == nil {
		return p
	}
	for _, tool := range []string{"bash", "node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			msg := "contractstest: " + tool + " not found; the compiled contracts need Node.js and npm (tools/contracts/build.sh)"
			if os.Getenv("CI") == "true" {
				tb.Fatal(msg)
			}
			tb.Skip(msg)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	p, err := contracts.Build(ctx, root)
	if err != nil {
		tb.Fatalf("contractstest: %v", err)
	}
	tb.Logf("contractstest: built contracts in %s: %s", time.Since(start).Round(time.Millisecond), p)
	return p
}

// Set returns the compiled contracts, building them if needed, and fails the
// test if they do not validate against the deployment recipe.
func Set(tb testing.TB) *contracts.Set {
	tb.Helper()
	s, err := contracts.Load(Path(tb))
	if err != nil {
		tb.Fatalf("contractstest: %v", err)
	}
	if err := s.Validate(); err != nil {
		tb.Fatalf("contractstest: %v", err)
	}
	return s
}
