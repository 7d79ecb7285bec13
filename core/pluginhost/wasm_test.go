package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/rpcplugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
	"github.com/nvm-node/nvm-node/sdk/storagetest"
	"github.com/nvm-node/nvm-node/sdk/wasmguest/wasmhost"
)

var (
	wasmOnce     sync.Once
	wasmDir      string
	wasmBuildErr error
)

// The modules the tests build, by file name.
var wasmModules = map[string]string{
	"example.wasm":          "github.com/nvm-node/nvm-node/sdk/examples/storage-wasm",
	"misbehave.wasm":        "github.com/nvm-node/nvm-node/sdk/wasmguest/internal/testguest/misbehave",
	"badabi.wasm":           "github.com/nvm-node/nvm-node/sdk/wasmguest/internal/testguest/badabi",
	"compute-example.wasm":  "github.com/nvm-node/nvm-node/sdk/examples/compute-wasm",
	"computemisbehave.wasm": "github.com/nvm-node/nvm-node/sdk/wasmguest/internal/testguest/computemisbehave",
	"http-example.wasm":     "github.com/nvm-node/nvm-node/sdk/examples/storage-http-wasm",
}

// wasmModule builds the test modules from Go source once per run and
// returns the path and sha256 of one.
func wasmModule(t testing.TB, name string) (path, sha string) {
	t.Helper()
	wasmOnce.Do(func() {
		if wasmDir, wasmBuildErr = os.MkdirTemp("", "pluginhost-wasm-"); wasmBuildErr != nil {
			return
		}
		for file, pkg := range wasmModules {
			cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", filepath.Join(wasmDir, file), pkg)
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
			if out, err := cmd.CombinedOutput(); err != nil {
				wasmBuildErr = fmt.Errorf("building the wasm module %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if wasmBuildErr != nil {
		t.Fatal(wasmBuildErr)
	}
	path = filepath.Join(wasmDir, name)
	sha, err := rpcplugin.FileSHA256(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, sha
}

// removeWASMBuilds is called by TestMain.
func removeWASMBuilds() {
	if wasmDir != "" {
		os.RemoveAll(wasmDir)
	}
}

// exampleWASM is the example module storing objects in root, mounted at
// /data.
func exampleWASM(t testing.TB, root string) Entry {
	path, sha := wasmModule(t, "example.wasm")
	return Entry{
		ID: "storage.wasm-example", Runtime: RuntimeWASM, Path: path, SHA256: sha,
		Config: plugin.Config(`{"root":"/data","noSync":true}`),
		Grants: Grants{Dirs: []DirGrant{{Host: root, Guest: "/data"}}},
	}
}

func misbehaveWASM(t testing.TB) Entry {
	path, sha := wasmModule(t, "misbehave.wasm")
	return Entry{ID: "storage.misbehave", Runtime: RuntimeWASM, Path: path, SHA256: sha}
}

// wasmCacheEnv names a folder for the tests' compilation cache.
const wasmCacheEnv = "NVM_WASM_TEST_CACHE"

// wasmCacheDir is the compilation cache of the package's tests, so each
// module compiles once per run rather than once per Host. Compiling the
// test modules takes seconds and Go builds them byte for byte the same
// each run, so the cache lives in the user's cache folder (or
// $NVM_WASM_TEST_CACHE) and later runs skip the compile; wazero keys it
// by module content and wazero version.
func wasmCacheDir(t testing.TB) string {
	wasmModule(t, "example.wasm")
	if dir := os.Getenv(wasmCacheEnv); dir != "" {
		return dir
	}
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "nvm-node", "wazero-test")
	}
	return filepath.Join(wasmDir, "cache")
}

// newWASMHost is newHost with the tests' compilation cache.
func newWASMHost(t *testing.T, entries ...Entry) *Host {
	t.Helper()
	h := New(Options{Logger: quietLogger(), WASMCacheDir: wasmCacheDir(t)})
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

func loadErr(t *testing.T, e Entry) error {
	t.Helper()
	h := New(Options{Logger: quietLogger(), WASMCacheDir: wasmCacheDir(t)})
	defer h.Close(context.Background())
	err := h.Load(t.Context(), []Entry{e})
	if err == nil {
		t.Fatalf("Load(%s) succeeded", e.ID)
	}
	return err
}

func TestWASMConformance(t *testing.T) {
	storagetest.Run(t, storagetest.Options{New: func(t *testing.T) storage.Backend {
		h := newWASMHost(t, exampleWASM(t, t.TempDir()))
		b, _ := h.Storage("storage.wasm-example")
		return b
	}})
}

// TestWASMErrorsCrossTheBoundary checks the sentinels and the typed error
// come back from the module intact.
func TestWASMErrorsCrossTheBoundary(t *testing.T) {
	h := newWASMHost(t, exampleWASM(t, t.TempDir()))
	b, _ := h.Storage("storage.wasm-example")
	_, err := b.Stat(t.Context(), "missing/key")
	var se *storage.Error
	if !errors.Is(err, storage.ErrNotFound) || !errors.As(err, &se) || se.Op != "stat" || se.Key != "missing/key" {
		t.Errorf("Stat of a missing key = %v (%#v), want a *storage.Error{stat, missing/key} wrapping ErrNotFound", err, se)
	}
	if _, err := b.Put(t.Context(), "a/../b", strings.NewReader("x"), storage.PutOptions{}); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("Put of a bad key = %v, want ErrInvalidKey", err)
	}
	if err := b.Configure(t.Context(), plugin.Config(`{"nope":1}`)); !errors.Is(err, plugin.ErrInvalidConfig) {
		t.Errorf("Configure with an unknown field = %v, want ErrInvalidConfig", err)
	}
}

func TestWASMMemoryLimit(t *testing.T) {
	e := misbehaveWASM(t)
	e.Limits.Memory = 64 << 20
	h := newWASMHost(t, e)
	b, _ := h.Storage(e.ID)
	if _, err := b.Put(t.Context(), "kept", strings.NewReader("data"), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := b.Stat(t.Context(), "hog")
	if !errors.Is(err, plugin.ErrUnavailable) || !strings.Contains(err.Error(), e.ID) || !strings.Contains(err.Error(), "out of memory") {
		t.Fatalf("Stat of a module exhausting its memory = %v, want ErrUnavailable naming %s and saying why", err, e.ID)
	}
	// The next call runs on a fresh, configured instance; the in-memory
	// object died with the old one.
	if _, err := b.Stat(t.Context(), "kept"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat after the failure = %v, want ErrNotFound from a fresh instance", err)
	}
	if _, err := b.Put(t.Context(), "again", strings.NewReader("data"), storage.PutOptions{}); err != nil {
		t.Errorf("Put after the failure: %v", err)
	}
	st := h.Stats()[0]
	if st.Starts != 2 || st.Crashes != 1 || !st.Up {
		t.Errorf("stats after one failure = %+v, want 2 starts, 1 crash, up", st)
	}
}

func TestWASMMemoryLimitBelowModule(t *testing.T) {
	e := misbehaveWASM(t)
	e.Limits.Memory = 64 << 10
	if err := loadErr(t, e); !strings.Contains(err.Error(), "limits.memory") {
		t.Errorf("loading a module over its memory limit: %v, want an error naming limits.memory", err)
	}
	e.Limits.Memory = 100000
	if err := loadErr(t, e); !strings.Contains(err.Error(), "multiple of 64KiB") {
		t.Errorf("loading with a memory limit not in pages: %v", err)
	}
}

func TestWASMTimeout(t *testing.T) {
	e := misbehaveWASM(t)
	e.Limits.CallTimeout = 300 * time.Millisecond
	h := newWASMHost(t, e)
	b, _ := h.Storage(e.ID)
	_, err := b.Stat(t.Context(), "loop")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), e.ID) {
		t.Fatalf("Stat of a looping module = %v, want DeadlineExceeded naming %s", err, e.ID)
	}
	if _, err := b.Stat(t.Context(), "other"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat after the timeout = %v, want ErrNotFound", err)
	}

	// The caller's cancellation stops the module the same way.
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, err := b.Stat(ctx, "loop"); !errors.Is(err, context.Canceled) {
		t.Errorf("Stat of a looping module, cancelled = %v, want Canceled", err)
	}
	if _, err := b.Stat(t.Context(), "other"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat after the cancellation = %v, want ErrNotFound", err)
	}
}

func TestWASMPanicReplacesInstance(t *testing.T) {
	h := newWASMHost(t, misbehaveWASM(t))
	b, _ := h.Storage("storage.misbehave")
	if _, err := b.Stat(t.Context(), "panic"); !errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("Stat of a panicking module = %v, want ErrUnavailable", err)
	}
	if _, err := b.Put(t.Context(), "x", strings.NewReader("y"), storage.PutOptions{}); err != nil {
		t.Errorf("Put after the panic: %v", err)
	}

	// A stream opened on an instance that then fails reports it.
	rc, _, err := b.Get(t.Context(), "x", storage.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b.Stat(t.Context(), "panic")
	if _, err := io.ReadAll(rc); !errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("reading a stream of a failed instance: %v, want ErrUnavailable", err)
	}
	// So does a Put in progress: its reader triggers the failure midway.
	_, err = b.Put(t.Context(), "y", io.MultiReader(strings.NewReader("abc"), readerFunc(func([]byte) (int, error) {
		b.Stat(t.Context(), "panic")
		return 0, io.EOF
	})), storage.PutOptions{})
	if !errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("Put whose instance failed midway: %v, want ErrUnavailable", err)
	}
	if _, err := b.Stat(t.Context(), "y"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat after the failed Put: %v, want ErrNotFound", err)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestWASMDirs(t *testing.T) {
	granted := t.TempDir()
	for _, name := range []string{"a", "b", "c"} {
		if err := os.WriteFile(filepath.Join(granted, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e := misbehaveWASM(t)
	e.Grants.Dirs = []DirGrant{{Host: granted, Guest: "/granted", ReadOnly: true}}
	h := newWASMHost(t, e)
	b, _ := h.Storage(e.ID)
	info, err := b.Stat(t.Context(), "read/granted")
	if err != nil || info.Size != 3 {
		t.Errorf("listing the granted folder: %+v, %v; want 3 entries", info, err)
	}
	parent := filepath.Dir(granted)
	for _, dir := range []string{"etc", "tmp", strings.TrimPrefix(parent, "/"), "granted/.."} {
		if _, err := b.Stat(t.Context(), "read/"+dir); !errors.Is(err, storage.ErrPermission) {
			t.Errorf("listing /%s, not granted: %v, want a failure", dir, err)
		}
	}
}

// TestWASMDirWrites checks a read-only grant cannot be written and a
// writable one can.
func TestWASMDirWrites(t *testing.T) {
	ro, rw := t.TempDir(), t.TempDir()
	e := misbehaveWASM(t)
	e.Grants.Dirs = []DirGrant{{Host: ro, Guest: "/ro", ReadOnly: true}, {Host: rw, Guest: "/rw"}}
	b, _ := newWASMHost(t, e).Storage(e.ID)
	if _, err := b.Stat(t.Context(), "write/ro/file"); !errors.Is(err, storage.ErrPermission) {
		t.Errorf("writing into a read-only grant: %v, want a failure", err)
	}
	if _, err := os.Stat(filepath.Join(ro, "file")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the read-only folder was written to (%v)", err)
	}
	if _, err := b.Stat(t.Context(), "write/rw/file"); err != nil {
		t.Errorf("writing into a writable grant: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(rw, "file")); err != nil || string(got) != "written" {
		t.Errorf("the writable folder holds %q, %v", got, err)
	}
	if _, err := b.Stat(t.Context(), "write/tmp/file"); !errors.Is(err, storage.ErrPermission) {
		t.Errorf("writing outside the grants: %v, want a failure", err)
	}
}

func TestWASMRefused(t *testing.T) {
	t.Run("WrongSHA256", func(t *testing.T) {
		e := misbehaveWASM(t)
		e.SHA256 = strings.Repeat("0", 64)
		if err := loadErr(t, e); !errors.Is(err, rpcplugin.ErrChecksum) {
			t.Errorf("wrong sha256: %v, want ErrChecksum", err)
		}
	})
	t.Run("WrongABIVersion", func(t *testing.T) {
		path, sha := wasmModule(t, "badabi.wasm")
		err := loadErr(t, Entry{ID: "storage.bad", Runtime: RuntimeWASM, Path: path, SHA256: sha})
		var ve *wasmhost.VersionError
		if !errors.As(err, &ve) || ve.PluginVersion != 99 || !strings.Contains(err.Error(), "version 99 of the wasm plugin ABI") {
			t.Errorf("wrong ABI version: %v, want a VersionError naming version 99", err)
		}
	})
	t.Run("WrongID", func(t *testing.T) {
		e := misbehaveWASM(t)
		e.ID = "storage.other"
		if err := loadErr(t, e); !strings.Contains(err.Error(), "reports id storage.misbehave") {
			t.Errorf("wrong id: %v", err)
		}
	})
	t.Run("KindMismatch", func(t *testing.T) {
		e := misbehaveWASM(t)
		e.ID = "compute.misbehave"
		if err := loadErr(t, e); !strings.Contains(err.Error(), "serves a storage backend, not compute") {
			t.Errorf("a storage module declared as compute: %v", err)
		}
	})
	t.Run("ComputeAsStorage", func(t *testing.T) {
		e := computeMisbehaveWASM(t)
		e.ID = "storage.misbehave"
		if err := loadErr(t, e); !strings.Contains(err.Error(), "serves a compute backend, not storage") {
			t.Errorf("a compute module declared as storage: %v", err)
		}
	})
}

// TestWASMCompilationCache checks a cache folder is filled: the small
// module compiles (and is cached) before its ABI version is refused.
func TestWASMCompilationCache(t *testing.T) {
	dir := t.TempDir()
	path, sha := wasmModule(t, "badabi.wasm")
	h := New(Options{Logger: quietLogger(), WASMCacheDir: dir})
	if err := h.Load(t.Context(), []Entry{{ID: "storage.bad", Runtime: RuntimeWASM, Path: path, SHA256: sha}}); err == nil {
		t.Fatal("loading the module with a bad ABI version succeeded")
	}
	if err := h.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	var files int
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, _ error) error {
		if d != nil && !d.IsDir() {
			files++
		}
		return nil
	})
	if files == 0 {
		t.Error("the compilation cache folder stayed empty")
	}
}

func TestWASMLineLogger(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := newLineLogger(log, "stderr")
	fmt.Fprint(l, "plain text\n{\"time\":\"x\",\"level\":\"WARN\",\"msg\":\"structured\",\"n\":3}\npart")
	fmt.Fprint(l, "ial\n\n")
	var got []string
	for line := range strings.Lines(buf.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprint(rec["level"], " ", rec["msg"], " ", rec["n"], " ", rec["stream"]))
	}
	want := []string{"INFO plain text <nil> stderr", "WARN structured 3 stderr", "INFO partial <nil> stderr"}
	if !slices.Equal(got, want) {
		t.Errorf("logged %q, want %q", got, want)
	}
}
