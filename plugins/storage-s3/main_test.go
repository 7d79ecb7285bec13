package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nvm-node/nvm-node/plugins/storage-s3/internal/s3test"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/rpcplugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
	"github.com/nvm-node/nvm-node/sdk/storagetest"
)

// The plugin binary is built once per test run.
var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	binSHA    string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func pluginBinary(t testing.TB) (path, sha string) {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "storage-s3-test-"); buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "storage-s3")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building the plugin: %v\n%s", err, out)
			return
		}
		binSHA, buildErr = rpcplugin.FileSHA256(binPath)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath, binSHA
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// start runs the plugin binary as the node does (empty environment but
// env) and returns its process, closed when t ends.
func start(t testing.TB, env ...string) *rpcplugin.Process {
	t.Helper()
	path, sha := pluginBinary(t)
	p, err := rpcplugin.Start(context.Background(), rpcplugin.Config{ID: "storage.s3", Path: path, SHA256: sha, Env: env, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Backend().Close(context.Background()) })
	return p
}

func startConfigured(t testing.TB, cfg string, env ...string) (*rpcplugin.Process, storage.Backend) {
	t.Helper()
	p := start(t, env...)
	b := p.Backend().(storage.Backend)
	if err := b.Configure(context.Background(), plugin.Config(cfg)); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return p, b
}

var prefixes atomic.Int64

func nextPrefix() string { return fmt.Sprintf("run-%d", prefixes.Add(1)) }

func TestDescribe(t *testing.T) {
	path, _ := pluginBinary(t)
	d, err := rpcplugin.Describe(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID() != "storage.s3" || d.APIVersion != storage.APIVersion || d.ProtocolVersion != plugin.ProtocolVersion {
		t.Errorf("describe = %+v", d)
	}
	for _, c := range []plugin.Capability{storage.CapRange, storage.CapPresign, storage.CapIfAbsent, storage.CapList, storage.CapWrite} {
		if !d.Has(c) {
			t.Errorf("describe lacks capability %s", c)
		}
	}
}

// TestProcessConformance runs the SDK suite against the plugin binary
// served through rpcplugin, as the node runs it.
func TestProcessConformance(t *testing.T) {
	srv := s3test.Start(t)
	storagetest.Run(t, storagetest.Options{
		New: func(t *testing.T) storage.Backend {
			_, b := startConfigured(t, srv.Config("process", nextPrefix(), ""))
			return b
		},
		Unconfigured: func(t *testing.T) storage.Backend { return start(t).Backend().(storage.Backend) },
		BadConfig:    plugin.Config(`{"bucket":"process","no_such_key":1}`),
	})
}

// TestEnvCredentials configures no keys: the AWS default chain finds the
// ones granted through the environment.
func TestEnvCredentials(t *testing.T) {
	srv := s3test.Start(t)
	cfg := fmt.Sprintf(`{"endpoint":%q,"bucket":"envcreds","path_style":true,"create_bucket":true}`, srv.Endpoint)
	_, b := startConfigured(t, cfg, "AWS_ACCESS_KEY_ID="+s3test.AccessKey, "AWS_SECRET_ACCESS_KEY="+s3test.SecretKey)
	if _, err := b.Put(t.Context(), "k", strings.NewReader("via env"), storage.PutOptions{}); err != nil {
		t.Fatalf("Put with credentials from the environment: %v", err)
	}
	_, b = startConfigured(t, cfg, "AWS_ACCESS_KEY_ID="+s3test.AccessKey, "AWS_SECRET_ACCESS_KEY=wrong")
	_, err := b.Stat(t.Context(), "k")
	if !errors.Is(err, storage.ErrPermission) {
		t.Errorf("Stat with a wrong secret through the process: %v, want ErrPermission", err)
	}
	if strings.Contains(fmt.Sprint(err), "wrong") {
		t.Errorf("error repeats the secret: %v", err)
	}
}

func TestConfigErrorThroughProcess(t *testing.T) {
	p := start(t)
	err := p.Backend().Configure(t.Context(), plugin.Config(`{"bucket":"b-1","secret_acess_key":"x"}`))
	if !errors.Is(err, plugin.ErrInvalidConfig) || !strings.Contains(err.Error(), "secret_acess_key") {
		t.Errorf("Configure with a misspelt key: %v, want ErrInvalidConfig naming the key", err)
	}
}

// endless yields zeros and cancels its context after n bytes.
type endless struct {
	n      int64
	cancel context.CancelFunc
}

func (r *endless) Read(p []byte) (int, error) {
	if r.n <= 0 {
		r.cancel()
	}
	clear(p)
	r.n -= int64(len(p))
	return len(p), nil
}

func TestCancelledPutThroughProcess(t *testing.T) {
	srv := s3test.Start(t)
	_, b := startConfigured(t, srv.Config("cancel", "c", `"part_size":5242880`))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, err := b.Put(ctx, "big", &endless{n: 23 << 20, cancel: cancel}, storage.PutOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Put: %v, want context.Canceled", err)
	}
	if _, err := b.Stat(t.Context(), "big"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat after the cancelled Put: %v", err)
	}
	// The host returns as soon as it cancels the stream; the plugin
	// aborts the upload right after, so wait for that (up to 10s).
	ups, err := srv.Uploads(t.Context(), "cancel", "c/")
	for i := 0; err == nil && len(ups) > 0 && i < 100; i++ {
		time.Sleep(100 * time.Millisecond)
		ups, err = srv.Uploads(t.Context(), "cancel", "c/")
	}
	if err != nil || len(ups) != 0 {
		t.Errorf("multipart uploads left after a cancelled Put: %v %v", ups, err)
	}
}

// peakRSS returns the peak resident set of a process, in bytes (Linux).
func peakRSS(pid int) (int64, bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

// randReader yields n pseudo-random bytes, hashing them.
type randReader struct {
	n    int64
	rng  *rand.ChaCha8
	hash io.Writer
}

func (r *randReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n)]
	r.rng.Read(p)
	r.hash.Write(p)
	r.n -= int64(len(p))
	return len(p), nil
}

// TestPluginMemoryBounded streams a large object through the plugin and
// checks the plugin process's peak RSS stays far below the object size:
// the host-side heap is the suite's concern, this is the plugin's.
func TestPluginMemoryBounded(t *testing.T) {
	size := int64(256 << 20)
	if v := os.Getenv(storagetest.LargeEnv); v != "" {
		n, err := storagetest.ParseSize(v)
		if err != nil {
			t.Fatal(err)
		}
		size = n
	} else if testing.Short() {
		size = 48 << 20
	}
	srv := s3test.Start(t)
	p, b := startConfigured(t, srv.Config("memory", "", ""))
	want := sha256.New()
	if _, err := b.Put(t.Context(), "large", &randReader{n: size, rng: rand.NewChaCha8([32]byte{7}), hash: want}, storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, _, err := b.Get(t.Context(), "large", storage.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	n, err := io.Copy(got, rc)
	rc.Close()
	if err != nil || n != size || string(got.Sum(nil)) != string(want.Sum(nil)) {
		t.Fatalf("read back %d of %d bytes (%v); hashes equal: %t", n, size, err, string(got.Sum(nil)) == string(want.Sum(nil)))
	}
	rss, ok := peakRSS(p.Pid())
	if !ok {
		t.Skip("no /proc/<pid>/status here: cannot measure the plugin's memory")
	}
	// Two 8 MiB parts, gRPC and HTTP buffers, and the Go runtime's GC
	// headroom: well under 160 MiB whatever the object size.
	const bound = 160 << 20
	t.Logf("%d MiB through the plugin: plugin peak RSS %d MiB", size>>20, rss>>20)
	if rss > bound && size > bound {
		t.Errorf("plugin peak RSS %d MiB for a %d MiB object (bound %d MiB): it buffers the object", rss>>20, size>>20, bound>>20)
	}
}
