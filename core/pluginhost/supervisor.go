package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/nvm-node/nvm-node/sdk/compute"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/rpcplugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// supervisor keeps one process plugin running. It restarts a crashed
// process lazily, on the next call, so an idle node does not spin on a
// plugin that keeps dying.
type supervisor struct {
	entry  Entry
	cfg    rpcplugin.Config
	policy RestartPolicy
	log    *slog.Logger
	stats  *Stats
	kind   plugin.Kind

	// info is the configured process's Info (read under mu): a restart
	// configures a new process, which reports it again.
	info plugin.Info

	mu        sync.Mutex
	proc      *rpcplugin.Process
	closed    bool
	crashes   []time.Time // recent crashes, within policy.CrashWindow
	failures  int         // consecutive failed starts
	nextStart time.Time   // no start before this (backoff)
	openUntil time.Time   // circuit breaker open until this
	lastErr   error
}

func startSupervisor(ctx context.Context, e Entry, opts Options, stats *Stats) (*supervisor, error) {
	var env []string
	for _, name := range e.Grants.Env {
		if v := opts.Getenv(name); v != "" {
			env = append(env, name+"="+v)
		}
	}
	log := opts.Logger.With("plugin", e.ID)
	s := &supervisor{
		entry: e, policy: opts.Restart, log: log, stats: stats, kind: e.Kind(),
		cfg: rpcplugin.Config{
			ID: e.ID, Path: e.Path, Args: e.Args, SHA256: e.SHA256, Env: env,
			Logger: opts.Logger, StartTimeout: e.Limits.StartTimeout,
		},
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The first start is not supervised: a bad binary or configuration is
	// reported to the operator at once.
	if err := s.startLocked(ctx); err != nil {
		return nil, err
	}
	stats.alive = s.alive
	return s, nil
}

func (s *supervisor) startLocked(ctx context.Context) error {
	p, err := rpcplugin.Start(ctx, s.cfg)
	if err != nil {
		return err
	}
	if err := p.Backend().Configure(ctx, s.entry.Config); err != nil {
		p.Backend().Close(context.WithoutCancel(ctx))
		return fmt.Errorf("plugin %s: configure: %w", s.entry.ID, err)
	}
	info, err := p.Backend().Info(ctx)
	if err != nil {
		p.Backend().Close(context.WithoutCancel(ctx))
		return fmt.Errorf("plugin %s: info: %w", s.entry.ID, err)
	}
	s.proc, s.info = p, info
	s.stats.starts.Add(1)
	s.stats.up.Store(true)
	s.stats.circuitOpen.Store(false)
	s.log.Info("plugin process started", "pid", p.Pid())
	return nil
}

// alive reports whether the current process runs.
func (s *supervisor) alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil && !s.proc.Exited()
}

func (s *supervisor) unavailable(format string, a ...any) error {
	return fmt.Errorf("plugin %s: %s: %w", s.entry.ID, fmt.Sprintf(format, a...), plugin.ErrUnavailable)
}

// current returns the live backend, restarting the process if it died and
// backoff and breaker allow.
func (s *supervisor) current(ctx context.Context) (plugin.Plugin, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("plugin %s: %w", s.entry.ID, plugin.ErrClosed)
	}
	if s.proc != nil {
		if !s.proc.Exited() {
			return s.proc.Backend(), nil
		}
		s.noteCrashLocked()
	}
	now := time.Now()
	if now.Before(s.openUntil) {
		return nil, s.unavailable("circuit breaker open after %d crashes within %v; next start attempt in %v",
			s.policy.MaxCrashes, s.policy.CrashWindow, s.openUntil.Sub(now).Round(time.Millisecond))
	}
	if now.Before(s.nextStart) {
		return nil, s.unavailable("restart failed (%v); next attempt in %v", s.lastErr, s.nextStart.Sub(now).Round(time.Millisecond))
	}
	// A restart serves every caller, so one caller's cancellation must not
	// abort it; StartTimeout bounds it instead.
	if err := s.startLocked(context.WithoutCancel(ctx)); err != nil {
		s.failures++
		backoff := min(s.policy.BackoffMin<<min(s.failures-1, 30), s.policy.BackoffMax)
		s.nextStart, s.lastErr = time.Now().Add(backoff), err
		s.log.Error("plugin restart failed", "err", err, "retry_in", backoff)
		return nil, s.unavailable("restart failed: %v", err)
	}
	s.failures = 0
	return s.proc.Backend(), nil
}

// noteCrashLocked records that the process died by itself.
func (s *supervisor) noteCrashLocked() {
	s.proc.Kill() // reap and flush its logs
	s.proc = nil
	s.stats.up.Store(false)
	s.stats.crashes.Add(1)
	now := time.Now()
	recent := s.crashes[:0]
	for _, t := range s.crashes {
		if now.Sub(t) < s.policy.CrashWindow {
			recent = append(recent, t)
		}
	}
	s.crashes = append(recent, now)
	s.log.Warn("plugin process exited; restarting", "recent_crashes", len(s.crashes))
	if len(s.crashes) >= s.policy.MaxCrashes {
		s.openUntil = now.Add(s.policy.Cooldown)
		s.crashes = nil
		s.stats.circuitOpen.Store(true)
		s.log.Error("plugin keeps crashing; circuit breaker open", "cooldown", s.policy.Cooldown)
	}
}

// Info returns the Info of the first start: Info is static, and this way
// it needs no live process.
func (s *supervisor) Info(context.Context) (plugin.Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info, nil
}

// Configure is refused: a supervised plugin was configured from
// plugins.yaml, and each restart reapplies that configuration.
func (s *supervisor) Configure(context.Context, plugin.Config) error {
	return fmt.Errorf("plugin %s: already configured from plugins.yaml", s.entry.ID)
}

func (s *supervisor) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.stats.up.Store(false)
	if s.proc == nil {
		return nil
	}
	err := s.proc.Backend().Close(ctx)
	s.proc = nil
	return err
}

func (s *supervisor) backend() plugin.Plugin {
	if s.kind == plugin.KindStorage {
		return &supervisedStorage{s}
	}
	return &supervisedCompute{s}
}

type supervisedStorage struct{ *supervisor }

var (
	_ storage.Presigner = (*supervisedStorage)(nil)
	_ storage.Presigner = (*meteredStorage)(nil)
)

func (s *supervisedStorage) storage(ctx context.Context, op, key string) (storage.Backend, error) {
	b, err := s.current(ctx)
	if err != nil {
		return nil, &storage.Error{Op: op, Key: key, Err: err}
	}
	return b.(storage.Backend), nil
}

func (s *supervisedStorage) Get(ctx context.Context, key string, opts storage.GetOptions) (io.ReadCloser, storage.ObjectInfo, error) {
	b, err := s.storage(ctx, "get", key)
	if err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	return b.Get(ctx, key, opts)
}

func (s *supervisedStorage) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	b, err := s.storage(ctx, "put", key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	return b.Put(ctx, key, r, opts)
}

func (s *supervisedStorage) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	b, err := s.storage(ctx, "stat", key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	return b.Stat(ctx, key)
}

func (s *supervisedStorage) Delete(ctx context.Context, key string) error {
	b, err := s.storage(ctx, "delete", key)
	if err != nil {
		return err
	}
	return b.Delete(ctx, key)
}

func (s *supervisedStorage) List(ctx context.Context, opts storage.ListOptions) (storage.ListPage, error) {
	b, err := s.storage(ctx, "list", opts.Prefix)
	if err != nil {
		return storage.ListPage{}, err
	}
	return b.List(ctx, opts)
}

// Presign forwards to the live process, whose client answers
// errors.ErrUnsupported itself when the plugin does not declare
// storage.CapPresign.
func (s *supervisedStorage) Presign(ctx context.Context, key string, opts storage.PresignOptions) (string, error) {
	b, err := s.storage(ctx, "presign", key)
	if err != nil {
		return "", err
	}
	p, ok := b.(storage.Presigner)
	if !ok {
		return "", &storage.Error{Op: "presign", Key: key, Err: fmt.Errorf("plugin %s: %w", s.entry.ID, errors.ErrUnsupported)}
	}
	return p.Presign(ctx, key, opts)
}

type supervisedCompute struct{ *supervisor }

func (s *supervisedCompute) compute(ctx context.Context, op string, id compute.JobID) (compute.Backend, error) {
	b, err := s.current(ctx)
	if err != nil {
		return nil, &compute.Error{Op: op, Job: id, Err: err}
	}
	return b.(compute.Backend), nil
}

func (s *supervisedCompute) Submit(ctx context.Context, spec compute.JobSpec) (compute.JobID, error) {
	b, err := s.compute(ctx, "submit", "")
	if err != nil {
		return "", err
	}
	return b.Submit(ctx, spec)
}

func (s *supervisedCompute) Status(ctx context.Context, id compute.JobID) (compute.Status, error) {
	b, err := s.compute(ctx, "status", id)
	if err != nil {
		return compute.Status{}, err
	}
	return b.Status(ctx, id)
}

func (s *supervisedCompute) Logs(ctx context.Context, id compute.JobID, opts compute.LogOptions) (io.ReadCloser, error) {
	b, err := s.compute(ctx, "logs", id)
	if err != nil {
		return nil, err
	}
	return b.Logs(ctx, id, opts)
}

func (s *supervisedCompute) Stop(ctx context.Context, id compute.JobID) error {
	b, err := s.compute(ctx, "stop", id)
	if err != nil {
		return err
	}
	return b.Stop(ctx, id)
}

func (s *supervisedCompute) List(ctx context.Context, opts compute.ListOptions) (compute.ListPage, error) {
	b, err := s.compute(ctx, "list", "")
	if err != nil {
		return compute.ListPage{}, err
	}
	return b.List(ctx, opts)
}

func (s *supervisedCompute) Results(ctx context.Context, id compute.JobID) ([]compute.Result, error) {
	b, err := s.compute(ctx, "results", id)
	if err != nil {
		return nil, err
	}
	return b.Results(ctx, id)
}

func (s *supervisedCompute) OpenResult(ctx context.Context, id compute.JobID, name string) (io.ReadCloser, compute.Result, error) {
	b, err := s.compute(ctx, "open-result", id)
	if err != nil {
		return nil, compute.Result{}, err
	}
	return b.OpenResult(ctx, id, name)
}
