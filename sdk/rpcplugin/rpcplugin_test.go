package rpcplugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	goplugin "github.com/hashicorp/go-plugin"
	"go.uber.org/goleak"
	"google.golang.org/grpc"

	"github.com/nvm-node/nvm-node/sdk/compute"
	"github.com/nvm-node/nvm-node/sdk/compute/memcompute"
	"github.com/nvm-node/nvm-node/sdk/computetest"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
	"github.com/nvm-node/nvm-node/sdk/storage/memstorage"
	"github.com/nvm-node/nvm-node/sdk/storagetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// inMemory serves b over an in-process gRPC connection and returns the
// host-side client.
func inMemory(t *testing.T, b plugin.Plugin) plugin.Plugin {
	t.Helper()
	client, server := goplugin.TestPluginGRPCConn(t, false, goplugin.PluginSet{pluginName: &grpcPlugin{impl: b}})
	t.Cleanup(func() {
		// Server first: client.Close asks a live server to stop itself,
		// which would race with our own Stop inside go-plugin.
		server.Stop()
		client.Close()
	})
	raw, err := client.Dispense(pluginName)
	if err != nil {
		t.Fatal(err)
	}
	be, _, err := newBackend(t.Context(), raw.(*grpc.ClientConn), "in-memory", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return be
}

func configure(t *testing.T, p plugin.Plugin, cfg string) {
	t.Helper()
	if err := p.Configure(t.Context(), plugin.Config(cfg)); err != nil {
		t.Fatalf("Configure(%s): %v", cfg, err)
	}
}

func TestStorageConformanceInMemoryGRPC(t *testing.T) {
	storagetest.Run(t, storagetest.Options{
		New: func(t *testing.T) storage.Backend {
			b := inMemory(t, memstorage.New()).(storage.Backend)
			configure(t, b, "")
			return b
		},
		HoldsData:    true,
		Unconfigured: func(t *testing.T) storage.Backend { return inMemory(t, memstorage.New()).(storage.Backend) },
		BadConfig:    plugin.Config(`{"maxBytes":-1}`),
	})
}

func TestComputeConformanceInMemoryGRPC(t *testing.T) {
	computetest.Run(t, computetest.Options{
		New: func(t *testing.T) compute.Backend {
			b := inMemory(t, memcompute.New()).(compute.Backend)
			configure(t, b, "")
			return b
		},
		Succeeding: memcompute.SucceedingSpec,
		Running:    memcompute.RunningSpec,
		Failing:    memcompute.FailingSpec,
	})
}

// Plugin binaries are built once per test run.
var (
	buildOnce sync.Once
	binDir    string
	bins      map[string]string
	buildErr  error
)

func buildPlugins(t testing.TB) map[string]string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "rpcplugin-test-")
		if buildErr != nil {
			return
		}
		bins = map[string]string{}
		for name, pkg := range map[string]string{
			"storage":    "../examples/storage-process",
			"compute":    "../examples/compute-process",
			"badversion": "./testdata/badversion",
			"memstorage": "./testdata/memstorage",
		} {
			out := filepath.Join(binDir, name)
			cmd := exec.Command("go", "build", "-o", out, pkg)
			if b, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
				return
			}
			bins[name] = out
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bins
}

func startProcess(t testing.TB, bin, id string, log *slog.Logger) *Process {
	t.Helper()
	return startProcessConfig(t, Config{ID: id, Path: bin, Logger: log})
}

func startProcessConfig(t testing.TB, cfg Config) *Process {
	t.Helper()
	sum, err := FileSHA256(cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.SHA256 = sum
	p, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

func TestStorageConformanceProcess(t *testing.T) {
	bin := buildPlugins(t)["storage"]
	storagetest.Run(t, storagetest.Options{
		New: func(t *testing.T) storage.Backend {
			b := startProcess(t, bin, "storage.example", nil).Backend().(storage.Backend)
			raw, _ := json.Marshal(map[string]any{"root": t.TempDir(), "noSync": true})
			configure(t, b, string(raw))
			return b
		},
		Unconfigured: func(t *testing.T) storage.Backend {
			return startProcess(t, bin, "storage.example", nil).Backend().(storage.Backend)
		},
		BadConfig: plugin.Config(`{"root":"/nonexistent/rpcplugin-test"}`),
	})
}

func TestComputeConformanceProcess(t *testing.T) {
	bin := buildPlugins(t)["compute"]
	computetest.Run(t, computetest.Options{
		New: func(t *testing.T) compute.Backend {
			b := startProcess(t, bin, "compute.memory", nil).Backend().(compute.Backend)
			configure(t, b, "")
			return b
		},
		Succeeding: memcompute.SucceedingSpec,
		Running:    memcompute.RunningSpec,
		Failing:    memcompute.FailingSpec,
	})
}

// TestKilledMidStream kills the plugin while the node reads an object the
// plugin produces: chunks over gRPC, or a pipe the plugin fills. (A file
// handed over as a descriptor needs the plugin no more: see
// TestKilledAfterFileHandoff.)
func TestKilledMidStream(t *testing.T) {
	for name, cfg := range map[string]Config{
		"chunks": {ID: "storage.example", Path: buildPlugins(t)["storage"], noFDChannel: true},
		"pipe":   {ID: "storage.memory", Path: buildPlugins(t)["memstorage"]},
	} {
		t.Run(name, func(t *testing.T) {
			p := startProcessConfig(t, cfg)
			b := p.Backend().(storage.Backend)
			raw, _ := json.Marshal(map[string]any{"root": t.TempDir(), "noSync": true})
			if cfg.ID == "storage.memory" {
				raw = nil
			}
			configure(t, b, string(raw))
			data := bytes.Repeat([]byte("x"), 32<<20)
			if _, err := b.Put(t.Context(), "big", bytes.NewReader(data), storage.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			rc, _, err := b.Get(t.Context(), "big", storage.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if _, err := io.ReadFull(rc, make([]byte, 1<<20)); err != nil {
				t.Fatal(err)
			}
			if got, want := readMode(rc), expectMode(name); got != want {
				t.Fatalf("Get read through %s, want %s", got, want)
			}
			if err := syscall.Kill(p.Pid(), syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, rc)
			if err == nil {
				t.Fatalf("read %d more bytes and a clean EOF from a killed plugin", n)
			}
			for what, err := range map[string]error{
				"read":          err,
				"call after it": func() error { _, err := b.Stat(t.Context(), "big"); return err }(),
			} {
				if !errors.Is(err, plugin.ErrUnavailable) {
					t.Errorf("%s: %v does not wrap plugin.ErrUnavailable", what, err)
				}
				if !strings.Contains(err.Error(), cfg.ID) {
					t.Errorf("%s: %q does not name the plugin", what, err)
				}
			}
			if err := b.Close(t.Context()); err != nil {
				t.Errorf("Close of a dead plugin: %v", err)
			}
		})
	}
}

func TestWrongAPIVersion(t *testing.T) {
	bin := buildPlugins(t)["badversion"]
	sum, _ := FileSHA256(bin)
	_, err := Start(t.Context(), Config{ID: "storage.memory", Path: bin, SHA256: sum})
	var ve *VersionError
	if !errors.As(err, &ve) || ve.PluginVersion != 99 || ve.What != "storage API" {
		t.Fatalf("Start = %v, want a VersionError for storage API 99", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "storage.memory") || !strings.Contains(msg, "rebuild") {
		t.Errorf("message %q does not name the plugin or the fix", msg)
	}
}

func TestWrongProtocolVersion(t *testing.T) {
	bin := buildPlugins(t)["storage"]
	sum, _ := FileSHA256(bin)
	_, err := Start(t.Context(), Config{ID: "storage.example", Path: bin, SHA256: sum, protocolVersion: plugin.ProtocolVersion + 1})
	var ve *VersionError
	if !errors.As(err, &ve) || ve.What != "plugin protocol" {
		t.Fatalf("Start = %v, want a VersionError for the plugin protocol", err)
	}
	if !strings.Contains(err.Error(), "storage.example") {
		t.Errorf("message %q does not name the plugin", err)
	}
}

func TestChecksumMismatch(t *testing.T) {
	bin := buildPlugins(t)["storage"]
	for _, sum := range []string{"", "abc", strings.Repeat("0", 64)} {
		_, err := Start(t.Context(), Config{ID: "storage.example", Path: bin, SHA256: sum})
		if !errors.Is(err, ErrChecksum) {
			t.Errorf("Start with sha256 %q = %v, want ErrChecksum", sum, err)
		}
	}
}

func TestWrongID(t *testing.T) {
	bin := buildPlugins(t)["storage"]
	sum, _ := FileSHA256(bin)
	_, err := Start(t.Context(), Config{ID: "storage.s3", Path: bin, SHA256: sum})
	if err == nil || !strings.Contains(err.Error(), "storage.example") {
		t.Fatalf("Start of storage.example as storage.s3 = %v", err)
	}
}

func TestDescribe(t *testing.T) {
	bin := buildPlugins(t)["storage"]
	out, err := exec.Command(bin, "describe").Output()
	if err != nil {
		t.Fatal(err)
	}
	var d Description
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("describe printed %q: %v", out, err)
	}
	if d.ID() != "storage.example" || d.APIVersion != storage.APIVersion || d.ProtocolVersion != plugin.ProtocolVersion || !d.Has(storage.CapRange) {
		t.Errorf("describe = %+v", d)
	}
	if d2, err := Describe(t.Context(), bin); err != nil || d2.ID() != d.ID() || d2.ProtocolVersion != d.ProtocolVersion {
		t.Errorf("Describe = %+v, %v", d2, err)
	}
	if _, err := Describe(t.Context(), "/bin/true"); err == nil {
		t.Error("Describe of a non-plugin succeeded")
	}
	// Run by hand without the node, it explains itself and fails.
	out, err = exec.Command(bin).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "plugin") {
		t.Errorf("plugin run by hand: %v, %q", err, out)
	}
}

// TestLogsForwarded checks the plugin's stderr lands in the node's slog
// log tagged with the plugin id: go-plugin's server logs in JSON at start.
func TestLogsForwarded(t *testing.T) {
	bin := buildPlugins(t)["storage"]
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := startProcess(t, bin, "storage.example", log)
	b := p.Backend().(storage.Backend)
	// Configure with a root that is a file: localstorage refuses it.
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	raw, _ := json.Marshal(map[string]any{"root": f})
	if err := b.Configure(t.Context(), raw); !errors.Is(err, plugin.ErrInvalidConfig) {
		t.Errorf("Configure with a file as root = %v, want ErrInvalidConfig", err)
	}
	b.Close(t.Context())
	p.Kill()
	if !strings.Contains(buf.String(), `"plugin":"storage.example"`) {
		t.Errorf("no log record tagged with the plugin in:\n%.2000s", buf.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogWriter(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w := newLogWriter(log.With("plugin", "storage.x"), "stderr", slog.LevelInfo)
	io.WriteString(w, `{"@level":"warn","@message":"disk slow","@timestamp":"x","ms":12}`+"\n")
	io.WriteString(w, `{"time":"x","level":"ERROR","msg":"boom","key":"k"}`+"\npanic: ")
	io.WriteString(w, "oh no\n\n")
	w.Write(bytes.Repeat([]byte("y"), maxLogLine+10))
	w.Flush()
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, m)
	}
	if len(recs) != 5 {
		t.Fatalf("%d records, want 5", len(recs))
	}
	for i, want := range []struct{ level, msg string }{
		{"WARN", "disk slow"}, {"ERROR", "boom"}, {"INFO", "panic: oh no"},
	} {
		if recs[i]["level"] != want.level || recs[i]["msg"] != want.msg || recs[i]["plugin"] != "storage.x" {
			t.Errorf("record %d = %v, want %+v", i, recs[i], want)
		}
	}
	if recs[0]["ms"] != float64(12) || recs[1]["key"] != "k" {
		t.Errorf("fields lost: %v %v", recs[0], recs[1])
	}
	if l := len(recs[3]["msg"].(string)); l != maxLogLine {
		t.Errorf("long line forwarded with %d bytes, want it cut to %d", l, maxLogLine)
	}
	if recs[4]["msg"] != strings.Repeat("y", 10) {
		t.Errorf("rest of a long line: %.40q", recs[4]["msg"])
	}
}

func TestInvalidUTF8NeverReachesTheWire(t *testing.T) {
	c := inMemory(t, memcompute.New()).(compute.Backend)
	configure(t, c, "")
	spec := memcompute.SucceedingSpec()
	spec.Env = map[string]string{"K": "\xff"}
	if _, err := c.Submit(t.Context(), spec); !errors.Is(err, compute.ErrInvalidSpec) {
		t.Errorf("Submit with invalid UTF-8 = %v, want ErrInvalidSpec", err)
	}
	if _, err := c.Status(t.Context(), "\xff"); !errors.Is(err, compute.ErrJobNotFound) {
		t.Errorf("Status of an invalid UTF-8 id = %v, want ErrJobNotFound", err)
	}
}

// FuzzLogWriter feeds arbitrary plugin output to the log forwarder: it
// must never panic, and every non-blank line must become a record.
func FuzzLogWriter(f *testing.F) {
	f.Add([]byte(`{"@level":"warn","@message":"x","n":1}` + "\nplain\n"))
	f.Add([]byte(`{"level":7,"msg":null,"a":{"b":[1,2]}}` + "\n{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var buf syncBuffer
		w := newLogWriter(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), "stderr", slog.LevelInfo)
		w.Write(data)
		w.Flush()
		for _, line := range strings.Split(buf.String(), "\n") {
			if line != "" && !json.Valid([]byte(line)) {
				t.Fatalf("forwarded record is not JSON: %q", line)
			}
		}
	})
}
