package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/nvm-node/nvm-node/sdk/compute"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// Options configure a Host.
type Options struct {
	// Logger receives plugin logs and supervision events; nil means
	// slog.Default().
	Logger *slog.Logger
	// Builtins are the builtin backends by id; nil means Builtins().
	Builtins map[string]Factory
	// Restart tunes supervision of process plugins; zero fields take
	// their defaults.
	Restart RestartPolicy
	// Getenv reads the node's environment for grants.env; nil means
	// os.Getenv.
	Getenv func(string) string
	// WASMCacheDir keeps compiled WASM modules across node restarts; empty
	// means they are cached in memory only, for the Host's life.
	WASMCacheDir string
}

// RestartPolicy tunes how crashed process plugins are restarted.
type RestartPolicy struct {
	// BackoffMin and BackoffMax bound the wait between failed start
	// attempts, which doubles from min to max. Defaults 100ms and 30s.
	BackoffMin, BackoffMax time.Duration
	// MaxCrashes within CrashWindow opens the circuit breaker. Defaults 5
	// and 1 minute.
	MaxCrashes  int
	CrashWindow time.Duration
	// Cooldown is how long an open breaker fails calls before one start
	// is tried again. Default 30s.
	Cooldown time.Duration
}

func (p RestartPolicy) withDefaults() RestartPolicy {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&p.BackoffMin, 100*time.Millisecond)
	def(&p.BackoffMax, 30*time.Second)
	def(&p.CrashWindow, time.Minute)
	def(&p.Cooldown, 30*time.Second)
	if p.MaxCrashes <= 0 {
		p.MaxCrashes = 5
	}
	return p
}

// Host holds the node's plugins.
type Host struct {
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	order   []managed // load order; closed in reverse
	storage map[string]storage.Backend
	compute map[string]compute.Backend
	closed  bool
	wasm    wasmShared
}

// managed is one loaded plugin.
type managed struct {
	id      string
	backend plugin.Plugin
	stats   *Stats
}

// New returns an empty Host.
func New(opts Options) *Host {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Builtins == nil {
		opts.Builtins = Builtins()
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	opts.Restart = opts.Restart.withDefaults()
	return &Host{opts: opts, log: opts.Logger, storage: map[string]storage.Backend{}, compute: map[string]compute.Backend{}}
}

// Load starts and configures every entry, in order. On error, the plugins
// this call started are closed again and the Host is unchanged.
func (h *Host) Load(ctx context.Context, entries []Entry) error {
	var started []managed
	fail := func(err error) error {
		for _, m := range slices.Backward(started) {
			m.backend.Close(context.WithoutCancel(ctx))
		}
		return err
	}
	h.mu.Lock()
	for _, e := range entries {
		if _, ok := h.lookupLocked(e.ID); ok {
			h.mu.Unlock()
			return fmt.Errorf("plugin %s is already loaded", e.ID)
		}
	}
	h.mu.Unlock()
	for _, e := range entries {
		if err := e.Validate(); err != nil {
			return fail(fmt.Errorf("plugin %s: %w", e.ID, err))
		}
		m, err := h.load(ctx, e)
		if err != nil {
			return fail(err)
		}
		started = append(started, m)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return fail(plugin.ErrClosed)
	}
	for _, m := range started {
		h.order = append(h.order, m)
		switch b := m.backend.(type) {
		case storage.Backend:
			h.storage[m.id] = b
		case compute.Backend:
			h.compute[m.id] = b
		}
	}
	return nil
}

func (h *Host) lookupLocked(id string) (plugin.Plugin, bool) {
	if b, ok := h.storage[id]; ok {
		return b, true
	}
	b, ok := h.compute[id]
	return b, ok
}

func (h *Host) load(ctx context.Context, e Entry) (managed, error) {
	stats := &Stats{ID: e.ID, Runtime: e.Runtime}
	var b plugin.Plugin
	switch e.Runtime {
	case RuntimeBuiltin:
		f, ok := h.opts.Builtins[e.ID]
		if !ok {
			return managed{}, fmt.Errorf("plugin %s: no builtin backend of that id (builtins: %v)", e.ID, sortedKeys(h.opts.Builtins))
		}
		b = f()
		if err := checkInfo(ctx, b, e.ID); err != nil {
			return managed{}, err
		}
		if err := configure(ctx, b, e); err != nil {
			b.Close(context.WithoutCancel(ctx))
			return managed{}, err
		}
	case RuntimeProcess:
		s, err := startSupervisor(ctx, e, h.opts, stats)
		if err != nil {
			return managed{}, err
		}
		b = s.backend()
	case RuntimeWASM:
		w, err := h.loadWASM(ctx, e, stats)
		if err != nil {
			return managed{}, err
		}
		b = w
	}
	stats.up.Store(true)
	// Every runtime goes through the same accounting wrapper.
	b = instrument(b, stats, e.Limits.CallTimeout)
	h.log.Info("plugin loaded", "plugin", e.ID, "runtime", e.Runtime)
	return managed{id: e.ID, backend: b, stats: stats}, nil
}

func checkInfo(ctx context.Context, b plugin.Plugin, id string) error {
	info, err := b.Info(ctx)
	if err != nil {
		return fmt.Errorf("plugin %s: info: %w", id, err)
	}
	if err := info.Validate(); err != nil {
		return fmt.Errorf("plugin %s: %w", id, err)
	}
	if info.ID() != id {
		return fmt.Errorf("plugin %s: backend reports id %s", id, info.ID())
	}
	return nil
}

func configure(ctx context.Context, b plugin.Plugin, e Entry) error {
	if err := b.Configure(ctx, e.Config); err != nil {
		return fmt.Errorf("plugin %s: configure: %w", e.ID, err)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Storage returns the storage backend with the given id ("storage.s3").
func (h *Host) Storage(id string) (storage.Backend, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.storage[id]
	return b, ok
}

// Compute returns the compute backend with the given id.
func (h *Host) Compute(id string) (compute.Backend, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.compute[id]
	return b, ok
}

// Stats returns a snapshot of every plugin's counters, in load order.
func (h *Host) Stats() []StatsSnapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]StatsSnapshot, 0, len(h.order))
	for _, m := range h.order {
		out = append(out, m.stats.Snapshot())
	}
	return out
}

// Close closes every plugin in reverse load order and reports every error.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	order := h.order
	h.mu.Unlock()
	var errs []error
	for _, m := range slices.Backward(order) {
		if err := m.backend.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("closing plugin %s: %w", m.id, err))
		}
		m.stats.up.Store(false)
	}
	h.wasm.close(ctx)
	return errors.Join(errs...)
}
