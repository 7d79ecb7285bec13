package pluginhost

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/rpcplugin"
	"github.com/nvm-node/nvm-node/sdk/wasmguest/wasmhost"
)

// DefaultWASMMemory is a WASM module's memory limit when limits.memory is
// not set. Deny by default applies to memory too: a module asking for more
// must say so in plugins.yaml.
const DefaultWASMMemory = 256 << 20

// wasmPage is WebAssembly's memory page size.
const wasmPage = 64 << 10

// maxWASMMemory is the most a 32-bit module can address.
const maxWASMMemory = 4 << 30

// wasmShared is what every WASM plugin of a Host shares: the compilation
// cache, so a module compiles once per node (and, with a cache folder, once
// per machine).
type wasmShared struct {
	mu    sync.Mutex
	cache wazero.CompilationCache
}

func (w *wasmShared) get(dir string) (wazero.CompilationCache, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cache != nil {
		return w.cache, nil
	}
	if dir == "" {
		w.cache = wazero.NewCompilationCache()
		return w.cache, nil
	}
	c, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wasm compilation cache %s: %w", dir, err)
	}
	w.cache = c
	return c, nil
}

func (w *wasmShared) close(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cache != nil {
		w.cache.Close(ctx)
		w.cache = nil
	}
}

// wasmMemoryPages validates limits.memory and returns it in pages.
func wasmMemoryPages(e Entry) (uint32, error) {
	m := int64(e.Limits.Memory)
	if m == 0 {
		m = DefaultWASMMemory
	}
	if m%wasmPage != 0 || m > maxWASMMemory {
		return 0, fmt.Errorf("plugin %s: limits.memory %d must be a multiple of 64KiB and at most 4GiB", e.ID, m)
	}
	return uint32(m / wasmPage), nil
}

// readVerified reads a module and checks its sha256 before anything
// compiles it; the bytes checked are the bytes compiled.
func readVerified(path, want string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != want {
		return nil, fmt.Errorf("%w: %s has sha256 %s, plugins.yaml says %s", rpcplugin.ErrChecksum, path, got, want)
	}
	return b, nil
}

// loadWASM compiles a module under the entry's limits and grants and
// returns its backend, configured.
func (h *Host) loadWASM(ctx context.Context, e Entry, stats *Stats) (plugin.Plugin, error) {
	pages, err := wasmMemoryPages(e)
	if err != nil {
		return nil, err
	}
	fsc := wazero.NewFSConfig()
	for _, d := range e.Grants.Dirs {
		fi, err := os.Stat(d.Host)
		if err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("plugin %s: grants.dirs: %s is not a folder", e.ID, d.Host)
		}
		if d.ReadOnly {
			fsc = fsc.WithReadOnlyDirMount(d.Host, d.Guest)
		} else {
			fsc = fsc.WithDirMount(d.Host, d.Guest)
		}
	}
	code, err := readVerified(e.Path, e.SHA256)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", e.ID, err)
	}
	cache, err := h.wasm.get(h.opts.WASMCacheDir)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", e.ID, err)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCloseOnContextDone(true). // a call's deadline or cancellation stops the guest
		WithMemoryLimitPages(pages).
		WithCompilationCache(cache))
	closeRT := func() { rt.Close(context.WithoutCancel(ctx)) }
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		closeRT()
		return nil, fmt.Errorf("plugin %s: %w", e.ID, err)
	}
	// The nvm_http host module is always there, so a module that can
	// make requests loads without grants; it then refuses every host.
	netw, err := wasmhost.NewNet(e.ID, e.Grants.Hosts)
	if err != nil {
		closeRT()
		return nil, err
	}
	closeRT = func() {
		rt.Close(context.WithoutCancel(ctx))
		netw.Close()
	}
	if err := netw.Instantiate(ctx, rt); err != nil {
		closeRT()
		return nil, err
	}
	cm, err := rt.CompileModule(ctx, code)
	if err != nil {
		closeRT()
		return nil, fmt.Errorf("plugin %s: compiling %s under its limits.memory of %d MiB: %w", e.ID, e.Path, pages*wasmPage>>20, err)
	}
	for _, mem := range cm.ExportedMemories() {
		if mem.Min() > pages {
			closeRT()
			return nil, fmt.Errorf("plugin %s: the module needs %d MiB of memory to start, over its limits.memory of %d MiB", e.ID, mem.Min()*wasmPage>>20, pages*wasmPage>>20)
		}
	}
	log := h.log.With("plugin", e.ID)
	out, errw := newLineLogger(log, "stdout"), newLineLogger(log, "stderr")
	mc := wazero.NewModuleConfig().
		WithName(""). // anonymous, so a replacement can start while nothing else is named
		WithStartFunctions("_initialize").
		WithStdout(out).WithStderr(errw).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().
		WithRandSource(rand.Reader).
		WithFSConfig(fsc)
	wcfg := wasmhost.Config{
		ID: e.ID,
		Instantiate: netw.Wrap(func(ctx context.Context) (api.Module, error) {
			return rt.InstantiateModule(ctx, cm, mc)
		}),
		CallTimeout: e.Limits.CallTimeout,
		MemoryLimit: uint64(pages) * wasmPage,
		OnStart:     func() { stats.starts.Add(1) },
		OnDiscard: func(why error) {
			stats.crashes.Add(1)
			log.Warn("wasm module instance failed; the next call starts a fresh one", "err", why)
		},
		OnClose: closeRT,
	}
	// The kind decides the host side; both share the instance machinery
	// (replacement of failed instances, limits, the ABI).
	var b interface {
		plugin.Plugin
		Alive() bool
	}
	switch e.Kind() {
	case plugin.KindStorage:
		b, err = wasmhost.Open(ctx, wcfg)
	case plugin.KindCompute:
		b, err = wasmhost.OpenCompute(ctx, wcfg)
	default:
		closeRT()
		return nil, fmt.Errorf("plugin %s: the wasm runtime serves storage and compute backends, not %s: %w", e.ID, e.Kind(), errors.ErrUnsupported)
	}
	if err != nil {
		return nil, err
	}
	stats.alive = b.Alive
	if err := configure(ctx, b, e); err != nil {
		b.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return b, nil
}

// lineLogger logs what a module writes to stdout or stderr, a line at a
// time. JSON lines from slog.NewJSONHandler keep their level, message and
// attributes, as for process plugins.
type lineLogger struct {
	log    *slog.Logger
	stream string
	mu     sync.Mutex
	buf    []byte
}

func newLineLogger(log *slog.Logger, stream string) *lineLogger {
	return &lineLogger{log: log, stream: stream}
}

// maxLine caps a line kept waiting for its newline.
const maxLine = 64 << 10

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			if len(l.buf) > maxLine {
				i = len(l.buf)
			} else {
				break
			}
		}
		l.emit(bytes.TrimRight(l.buf[:i], "\r"))
		l.buf = l.buf[min(i+1, len(l.buf)):]
	}
	if len(l.buf) == 0 {
		l.buf = nil
	}
	return len(p), nil
}

func (l *lineLogger) emit(line []byte) {
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	var rec map[string]any
	if line[0] != '{' || json.Unmarshal(line, &rec) != nil {
		l.log.Info(string(line), "stream", l.stream)
		return
	}
	level, msg := slog.LevelInfo, "plugin log"
	attrs := make([]any, 0, len(rec)+1)
	for k, v := range rec {
		switch k {
		case "level":
			if s, ok := v.(string); ok {
				var lv slog.Level
				if lv.UnmarshalText([]byte(s)) == nil {
					level = lv
				}
			}
		case "msg":
			if s, ok := v.(string); ok && s != "" {
				msg = s
			}
		case "time", "source":
			// The node stamps its own.
		default:
			attrs = append(attrs, slog.Any(k, v))
		}
	}
	attrs = append(attrs, slog.String("stream", l.stream))
	l.log.Log(context.Background(), level, msg, attrs...)
}
