package pluginhost

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/nvm-node/nvm-node/sdk/compute"
	"github.com/nvm-node/nvm-node/sdk/compute/memcompute"
	"github.com/nvm-node/nvm-node/sdk/computetest"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/rpcplugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
	"github.com/nvm-node/nvm-node/sdk/storagetest"
)

// nodeEnv makes the test binary act as a node for TestPluginDiesWithNode.
const nodeEnv = "PLUGINHOST_TEST_NODE_PLUGINS_YAML"

func TestMain(m *testing.M) {
	if path := os.Getenv(nodeEnv); path != "" {
		runFakeNode(path)
		return
	}
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	removeWASMBuilds()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// runFakeNode loads plugins.yaml, prints each process plugin's pid, and
// waits to be killed.
func runFakeNode(path string) {
	entries, err := LoadFile(path)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	h := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := h.Load(context.Background(), entries); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	for _, e := range entries {
		fmt.Printf("pid %d\n", h.pid(e.ID))
	}
	select {}
}

// pid returns the process id behind a process plugin, or 0.
func (h *Host) pid(id string) int {
	s := h.supervisor(id)
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.Pid()
}

// exited reports whether the supervisor has seen its process end.
func (h *Host) exited(id string) bool {
	s := h.supervisor(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc == nil || s.proc.Exited()
}

func (h *Host) supervisor(id string) *supervisor {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.order {
		if m.id != id {
			continue
		}
		var s *supervisor
		switch b := m.backend.(type) {
		case *meteredStorage:
			s = b.Backend.(*supervisedStorage).supervisor
		case *meteredCompute:
			s = b.Backend.(*supervisedCompute).supervisor
		}
		return s
	}
	return nil
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// examplePlugin builds the SDK's example storage plugin once per run.
func examplePlugin(t testing.TB) (path, sha string) {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "pluginhost-test-"); buildErr != nil {
			return
		}
		for name, pkg := range map[string]string{
			"storage-example": "github.com/nvm-node/nvm-node/sdk/examples/storage-process",
			"compute-memory":  "github.com/nvm-node/nvm-node/sdk/examples/compute-process",
		} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, name), pkg).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("building the example plugin %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	path = filepath.Join(binDir, "storage-example")
	sha, err := rpcplugin.FileSHA256(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, sha
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newHost(t *testing.T, policy RestartPolicy, entries ...Entry) *Host {
	t.Helper()
	h := New(Options{Logger: quietLogger(), Restart: policy})
	if err := h.Load(t.Context(), entries); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.Close(context.Background()); err != nil {
			t.Errorf("Host.Close: %v", err)
		}
	})
	return h
}

func processEntry(t *testing.T, root string) Entry {
	path, sha := examplePlugin(t)
	return Entry{
		ID: "storage.example", Runtime: RuntimeProcess, Path: path, SHA256: sha,
		Config: plugin.Config(fmt.Sprintf(`{"root":%q,"noSync":true}`, root)),
	}
}

func TestBuiltinConformance(t *testing.T) {
	t.Run("storage.local", func(t *testing.T) {
		storagetest.Run(t, storagetest.Options{New: func(t *testing.T) storage.Backend {
			h := newHost(t, RestartPolicy{}, Entry{ID: "storage.local", Runtime: RuntimeBuiltin,
				Config: plugin.Config(fmt.Sprintf(`{"root":%q,"noSync":true}`, t.TempDir()))})
			b, _ := h.Storage("storage.local")
			return b
		}})
	})
	t.Run("compute.memory", func(t *testing.T) {
		computetest.Run(t, computetest.Options{
			New: func(t *testing.T) compute.Backend {
				h := newHost(t, RestartPolicy{}, Entry{ID: "compute.memory", Runtime: RuntimeBuiltin})
				b, _ := h.Compute("compute.memory")
				return b
			},
			Succeeding: memcompute.SucceedingSpec, Running: memcompute.RunningSpec, Failing: memcompute.FailingSpec,
		})
	})
}

func TestProcessConformance(t *testing.T) {
	storagetest.Run(t, storagetest.Options{New: func(t *testing.T) storage.Backend {
		h := newHost(t, RestartPolicy{}, processEntry(t, t.TempDir()))
		b, _ := h.Storage("storage.example")
		return b
	}})
}

func TestProcessComputeConformance(t *testing.T) {
	examplePlugin(t)
	path := filepath.Join(binDir, "compute-memory")
	sha, err := rpcplugin.FileSHA256(path)
	if err != nil {
		t.Fatal(err)
	}
	computetest.Run(t, computetest.Options{
		New: func(t *testing.T) compute.Backend {
			h := newHost(t, RestartPolicy{}, Entry{ID: "compute.memory", Runtime: RuntimeProcess, Path: path, SHA256: sha})
			b, _ := h.Compute("compute.memory")
			return b
		},
		Succeeding: memcompute.SucceedingSpec, Running: memcompute.RunningSpec, Failing: memcompute.FailingSpec,
	})
}

func TestLoadErrors(t *testing.T) {
	path, sha := examplePlugin(t)
	for name, tc := range map[string]struct {
		e    Entry
		want error
		msg  string
	}{
		"checksum":          {Entry{ID: "storage.example", Runtime: RuntimeProcess, Path: path, SHA256: strings.Repeat("0", 64)}, rpcplugin.ErrChecksum, ""},
		"wasm not a module": {Entry{ID: "compute.alg", Runtime: RuntimeWASM, Path: path, SHA256: sha}, nil, "compiling"},
		"bad config":        {Entry{ID: "storage.local", Runtime: RuntimeBuiltin, Config: plugin.Config(`{"rooot":"/x"}`)}, plugin.ErrInvalidConfig, ""},
		"unknown builtin":   {Entry{ID: "storage.s3", Runtime: RuntimeBuiltin}, nil, "no builtin backend"},
		"wrong process id":  {Entry{ID: "storage.other", Runtime: RuntimeProcess, Path: path, SHA256: sha}, nil, "is plugin storage.example"},
		"process config":    {Entry{ID: "storage.example", Runtime: RuntimeProcess, Path: path, SHA256: sha, Config: plugin.Config(`{}`)}, plugin.ErrInvalidConfig, ""},
	} {
		h := New(Options{Logger: quietLogger()})
		err := h.Load(t.Context(), []Entry{{ID: "storage.memory", Runtime: RuntimeBuiltin}, tc.e})
		if err == nil {
			t.Errorf("%s: Load succeeded", name)
			continue
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: %v does not wrap %v", name, err, tc.want)
		}
		if !strings.Contains(err.Error(), tc.e.ID) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %q does not name the plugin or say %q", name, err, tc.msg)
		}
		if _, ok := h.Storage("storage.memory"); ok {
			t.Errorf("%s: a failed Load left earlier plugins registered", name)
		}
		h.Close(t.Context())
	}
}

// waitUp calls Stat until the plugin answers, tolerating the errors of a
// restart in progress.
func waitUp(t *testing.T, b storage.Backend, key string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := b.Stat(t.Context(), key)
		if err == nil || errors.Is(err, storage.ErrNotFound) {
			return
		}
		if !errors.Is(err, plugin.ErrUnavailable) {
			t.Fatalf("Stat during restart: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin not back: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func kill(t *testing.T, h *Host, id string) int {
	t.Helper()
	pid := h.pid(id)
	if pid == 0 {
		t.Fatal("no process")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Let go-plugin notice the exit, as it would before the next call in
	// a real crash; calls in flight meanwhile fail with ErrUnavailable.
	for range 500 {
		if h.exited(id) {
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("supervisor did not notice the process exit")
	return pid
}

func TestCrashRestart(t *testing.T) {
	root := t.TempDir()
	h := newHost(t, RestartPolicy{BackoffMin: 10 * time.Millisecond}, processEntry(t, root))
	b, _ := h.Storage("storage.example")
	if _, err := b.Put(t.Context(), "kept", strings.NewReader("data"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	old := kill(t, h, "storage.example")
	if h.Stats()[0].Up {
		t.Error("stats show a crashed plugin up")
	}
	waitUp(t, b, "kept")
	if pid := h.pid("storage.example"); pid == 0 || pid == old {
		t.Errorf("pid after restart %d (was %d)", pid, old)
	}
	st := h.Stats()[0]
	if st.Starts != 2 || st.Crashes != 1 || !st.Up {
		t.Errorf("stats after one crash: %+v", st)
	}
	n, err := testutil.GatherAndCount(registry(t, h), "nvm_plugin_crashes_total")
	if err != nil || n != 1 {
		t.Errorf("prometheus: %d crash series, %v", n, err)
	}
}

func registry(t *testing.T, h *Host) *prometheus.Registry {
	t.Helper()
	r := prometheus.NewRegistry()
	if err := r.Register(h.Collector()); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestCircuitBreaker(t *testing.T) {
	h := newHost(t, RestartPolicy{BackoffMin: time.Millisecond, MaxCrashes: 2, Cooldown: 300 * time.Millisecond}, processEntry(t, t.TempDir()))
	b, _ := h.Storage("storage.example")
	kill(t, h, "storage.example")
	waitUp(t, b, "x-missing-is-fine")
	kill(t, h, "storage.example")
	_, err := b.Stat(t.Context(), "x")
	if !errors.Is(err, plugin.ErrUnavailable) || !strings.Contains(err.Error(), "circuit breaker open") || !strings.Contains(err.Error(), "storage.example") {
		t.Fatalf("Stat with the breaker open = %v", err)
	}
	var se *storage.Error
	if !errors.As(err, &se) || se.Op != "stat" {
		t.Errorf("breaker error is not a storage.Error: %#v", err)
	}
	if !h.Stats()[0].CircuitOpen {
		t.Error("stats do not show the open breaker")
	}
	time.Sleep(350 * time.Millisecond)
	if _, err := b.Stat(t.Context(), "x"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("after the cooldown, Stat = %v, want ErrNotFound from a restarted plugin", err)
	}
}

func TestRestartBackoff(t *testing.T) {
	// Copy the binary so it can be spoiled after the first start.
	src, sha := examplePlugin(t)
	bin := filepath.Join(t.TempDir(), "plugin")
	data, _ := os.ReadFile(src)
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	e := processEntry(t, t.TempDir())
	e.Path, e.SHA256 = bin, sha
	h := newHost(t, RestartPolicy{BackoffMin: time.Hour}, e)
	b, _ := h.Storage("storage.example")
	// Swap the file as an attacker would (a running binary cannot be
	// rewritten in place).
	if err := os.WriteFile(bin+".new", []byte("#!/bin/sh\necho tampered\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(bin+".new", bin); err != nil {
		t.Fatal(err)
	}
	kill(t, h, "storage.example")
	_, err := b.Stat(t.Context(), "x")
	if !errors.Is(err, plugin.ErrUnavailable) || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("restart of a tampered binary: %v", err)
	}
	_, err = b.Stat(t.Context(), "x")
	if !errors.Is(err, plugin.ErrUnavailable) || !strings.Contains(err.Error(), "next attempt in") {
		t.Fatalf("call during backoff: %v", err)
	}
}

// TestPluginDiesWithNode runs a node in a child process, kills it with
// SIGKILL (no chance to clean up) and checks its plugin process goes too.
func TestPluginDiesWithNode(t *testing.T) {
	path, sha := examplePlugin(t)
	yml := filepath.Join(t.TempDir(), "plugins.yaml")
	doc := fmt.Sprintf("plugins:\n  - id: storage.example\n    runtime: process\n    path: %s\n    sha256: %s\n    config: {root: %s}\n", path, sha, t.TempDir())
	if err := os.WriteFile(yml, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	node := exec.Command(os.Args[0], "-test.run=^$")
	node.Env = append(os.Environ(), nodeEnv+"="+yml)
	out, err := node.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	defer node.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "pid ") {
		t.Fatalf("fake node said %q, %v", line, err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "pid ")))
	if !alive(pid) {
		t.Fatalf("plugin %d not running", pid)
	}
	node.Process.Signal(syscall.SIGKILL)
	node.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("plugin process %d outlived its node by 10s", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid runs (a zombie awaiting its reaper is dead).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	return !strings.Contains(string(b), ") Z ")
}

func TestCallTimeoutAndCounters(t *testing.T) {
	h := newHost(t, RestartPolicy{},
		Entry{ID: "storage.memory", Runtime: RuntimeBuiltin},
		Entry{ID: "compute.memory", Runtime: RuntimeBuiltin, Limits: Limits{CallTimeout: time.Nanosecond}},
	)
	s, _ := h.Storage("storage.memory")
	if _, err := s.Put(t.Context(), "k", strings.NewReader("v"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(t.Context(), "missing"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatal(err)
	}
	c, _ := h.Compute("compute.memory")
	time.Sleep(time.Millisecond)
	if _, err := c.List(t.Context(), compute.ListOptions{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("List with a 1ns call timeout = %v, want DeadlineExceeded", err)
	}
	st := h.Stats()
	if st[0].ID != "storage.memory" || st[0].Calls != 2 || st[0].Errors != 1 || !st[0].Up {
		t.Errorf("storage stats %+v, want 2 calls, 1 error", st[0])
	}
	if st[1].Calls != 1 || st[1].Errors != 1 {
		t.Errorf("compute stats %+v", st[1])
	}
	if _, ok := h.Storage("compute.memory"); ok {
		t.Error("a compute plugin is listed as storage")
	}
	if err := h.Load(t.Context(), []Entry{{ID: "storage.memory", Runtime: RuntimeBuiltin}}); err == nil {
		t.Error("loading an id twice succeeded")
	}
}
