package contracts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// EnvDir names the environment variable that points at a folder holding
// FileName (or at the file itself), overriding the repository cache.
const EnvDir = "NVM_CONTRACTS_DIR"

// ErrNotBuilt is returned when the compiled contracts are not where they are
// looked for; tools/contracts/build.sh makes them.
var ErrNotBuilt = errors.New("compiled contracts not found (run tools/contracts/build.sh)")

// Paths of the build step, relative to the repository root.
const (
	toolsDir     = "tools/contracts"
	buildScript  = "tools/contracts/build.sh"
	cacheDirName = ".cache/contracts"
)

// CacheKey is the name of the cache folder build.sh compiles into: the first
// 16 hex digits of sha256(package-lock.json || compile.mjs). build.sh computes
// the same value with sha256sum; keep the two in step.
func CacheKey(repoRoot string) (string, error) {
	h := sha256.New()
	for _, name := range []string{"package-lock.json", "compile.mjs"} {
		data, err := os.ReadFile(filepath.Join(repoRoot, toolsDir, name))
		if err != nil {
			return "", fmt.Errorf("contracts: cache key: %w", err)
		}
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// DefaultPath returns where build.sh writes the compiled contracts by default
// for the sources in repoRoot: <repoRoot>/.cache/contracts/<CacheKey>/contracts.json.
// The file may not exist yet.
func DefaultPath(repoRoot string) (string, error) {
	key, err := CacheKey(repoRoot)
	if err != nil {
		return "", err
	}
	return filepath.Join(repoRoot, cacheDirName, key, FileName), nil
}

// Locate finds the compiled contracts file: the folder or file named by the
// environment variable EnvDir if it is set, else DefaultPath(repoRoot). It
// returns an error wrapping ErrNotBuilt when the file does not exist.
func Locate(repoRoot string) (string, error) {
	var path string
	if dir := os.Getenv(EnvDir); dir != "" {
		path = dir
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			path = filepath.Join(dir, FileName)
		}
	} else {
		p, err := DefaultPath(repoRoot)
		if err != nil {
			return "", err
		}
		path = p
	}
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("contracts: %s: %w", path, ErrNotBuilt)
		}
		return "", fmt.Errorf("contracts: %w", err)
	}
	return path, nil
}

// RepoRoot walks up from dir to the repository root, recognised by the
// contracts build script, so tests and tools find it from any package.
func RepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("contracts: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, buildScript)); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("contracts: no %s above the working directory", buildScript)
		}
		dir = parent
	}
}

// Build runs tools/contracts/build.sh for repoRoot (npm ci when needed, then
// solc; about 70 s cold, instant when cached) and returns the path of the
// compiled file. It needs bash, node and npm on PATH.
func Build(ctx context.Context, repoRoot string) (string, error) {
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(repoRoot, buildScript))
	cmd.Dir = repoRoot
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("contracts: build.sh: %w: %s", err, lastLines(stderr.String(), 20))
	}
	out := strings.TrimSpace(stdout.String())
	path := out[strings.LastIndexByte(out, '\n')+1:]
	if path == "" {
		return "", errors.New("contracts: build.sh printed no path")
	}
	return path, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
