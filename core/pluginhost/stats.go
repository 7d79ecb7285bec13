package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nvm-node/nvm-node/sdk/compute"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// Stats counts one plugin's activity; it is safe for concurrent use.
type Stats struct {
	ID      string
	Runtime Runtime

	calls, errors, starts, crashes atomic.Int64
	up, circuitOpen                atomic.Bool
	// alive, when set, reports whether the plugin's process still runs, so
	// a crash shows before the next call notices it.
	alive func() bool
}

// StatsSnapshot is a copy of a plugin's counters.
type StatsSnapshot struct {
	ID          string
	Runtime     Runtime
	Up          bool
	CircuitOpen bool
	Calls       int64 // backend method calls
	Errors      int64 // calls that returned an error
	Starts      int64 // process starts, restarts included
	Crashes     int64 // process exits the host did not ask for
}

// Snapshot copies the counters.
func (s *Stats) Snapshot() StatsSnapshot {
	return StatsSnapshot{
		ID: s.ID, Runtime: s.Runtime, Up: s.up.Load() && (s.alive == nil || s.alive()), CircuitOpen: s.circuitOpen.Load(),
		Calls: s.calls.Load(), Errors: s.errors.Load(), Starts: s.starts.Load(), Crashes: s.crashes.Load(),
	}
}

var (
	descUp      = prometheus.NewDesc("nvm_plugin_up", "Whether the plugin is serving (1) or not (0).", []string{"plugin", "runtime"}, nil)
	descOpen    = prometheus.NewDesc("nvm_plugin_circuit_open", "Whether the plugin's circuit breaker is open.", []string{"plugin"}, nil)
	descCalls   = prometheus.NewDesc("nvm_plugin_calls_total", "Backend method calls.", []string{"plugin"}, nil)
	descErrors  = prometheus.NewDesc("nvm_plugin_call_errors_total", "Backend method calls that returned an error.", []string{"plugin"}, nil)
	descStarts  = prometheus.NewDesc("nvm_plugin_starts_total", "Plugin process starts, restarts included.", []string{"plugin"}, nil)
	descCrashes = prometheus.NewDesc("nvm_plugin_crashes_total", "Plugin process exits the node did not ask for.", []string{"plugin"}, nil)
)

// Collector returns a Prometheus collector of every plugin's counters, for
// the node to register with its registry.
func (h *Host) Collector() prometheus.Collector { return collector{h} }

type collector struct{ h *Host }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descOpen, descCalls, descErrors, descStarts, descCrashes} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	for _, s := range c.h.Stats() {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, b2f(s.Up), s.ID, string(s.Runtime))
		ch <- prometheus.MustNewConstMetric(descOpen, prometheus.GaugeValue, b2f(s.CircuitOpen), s.ID)
		ch <- prometheus.MustNewConstMetric(descCalls, prometheus.CounterValue, float64(s.Calls), s.ID)
		ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(s.Errors), s.ID)
		ch <- prometheus.MustNewConstMetric(descStarts, prometheus.CounterValue, float64(s.Starts), s.ID)
		ch <- prometheus.MustNewConstMetric(descCrashes, prometheus.CounterValue, float64(s.Crashes), s.ID)
	}
}

// instrument wraps b to count calls and apply the per-call timeout. For
// calls returning a stream the timeout bounds opening it, not reading it.
func instrument(b plugin.Plugin, s *Stats, timeout time.Duration) plugin.Plugin {
	m := meter{s: s, timeout: timeout}
	switch b := b.(type) {
	case storage.Backend:
		return &meteredStorage{b, m}
	case compute.Backend:
		return &meteredCompute{b, m}
	}
	return b
}

type meter struct {
	s       *Stats
	timeout time.Duration
}

func (m meter) begin(ctx context.Context) (context.Context, context.CancelFunc) {
	m.s.calls.Add(1)
	if m.timeout > 0 {
		return context.WithTimeout(ctx, m.timeout)
	}
	return ctx, func() {}
}

func (m meter) end(err error) {
	if err != nil {
		m.s.errors.Add(1)
	}
}

type meteredStorage struct {
	storage.Backend
	m meter
}

func (w *meteredStorage) Get(ctx context.Context, key string, opts storage.GetOptions) (io.ReadCloser, storage.ObjectInfo, error) {
	ctx, cancel := w.m.begin(ctx)
	defer cancel()
	rc, info, err := w.Backend.Get(ctx, key, opts)
	w.m.end(err)
	return rc, info, err
}

func (w *meteredStorage) Put(ctx context.Context, key string, r io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	// No timeout on Put: its duration is the upload's, which the caller
	// bounds.
	w.m.s.calls.Add(1)
	info, err := w.Backend.Put(ctx, key, r, opts)
	w.m.end(err)
	return info, err
}

func (w *meteredStorage) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	ctx, cancel := w.m.begin(ctx)
	defer cancel()
	info, err := w.Backend.Stat(ctx, key)
	w.m.end(err)
	return info, err
}

func (w *meteredStorage) Delete(ctx context.Context, key string) error {
	ctx, cancel := w.m.begin(ctx)
	defer cancel()
	err := w.Backend.Delete(ctx, key)
	w.m.end(err)
	return err
}

func (w *meteredStorage) List(ctx context.Context, opts storage.ListOptions) (storage.ListPage, error) {
	ctx, cancel := w.m.begin(ctx)
	defer cancel()
	p, err := w.Backend.List(ctx, opts)
	w.m.end(err)
	return p, err
}

// Presign forwards to the wrapped backend when it can presign, so the
// host's wrappers never hide the capability.
func (w *meteredStorage) Presign(ctx context.Context, key string, opts storage.PresignOptions) (string, error) {
	p, ok := w.Backend.(storage.Presigner)
	if !ok {
		return "", &storage.Error{Op: "presign", Key: key, Err: fmt.Errorf("backend cannot presign: %w", errors.ErrUnsupported)}
	}
	ctx, cancel := w.m.begin(ctx)
	defer cancel()
	u, err := p.Presign(ctx, key, opts)
	w.m.end(err)
	return u, err
}

type meteredCompute struct {
	compute.Backend
	m meter
}

func (w *meteredCompute) Submit(ctx context.Context, spec compute.JobSpec) (compute.JobID, error) {
	ctx, cancel := w.m.begin(ctx)
	defer cancel()
	id, err := w.Backend.Submit(ctx, spec)
	w.m.end(err)
	return id, err
}

func (w *meteredCompute) Status(ctx context.Context, id compute.JobID) (compute.Status, error) {
	ctx, cancel := w.m.begin(ctx)
	defer cancel()
	st, err := w.Backend.Status(ctx, id)
	w.m.end(err)
	return st, err
}

func (w *meteredCompute) Logs(ctx context.Context, id compute.JobID, opts compute.LogOptions) (io.ReadCloser, error) {
	ctx, cancel := w.m.begin(ctx)
	defer cancel()
	rc, err := w.Backend.Logs(ctx, id, opts)
	w.m.end(err)
	return rc, err
}

func (w *meteredCompute) Stop(ctx context.Context, id compute.JobID) error {
	ctx, cancel := w.m.begin(ctx)
	defer cancel()
	err := w.Backend.Stop(ctx, id)
	w.m.end(err)
	return err
}

func (w *meteredCompute) List(ctx context.Context, opts compute.ListOptions) (compute.ListPage, error) {
	ctx, cancel := w.m.begin(ctx)
	defer cancel()
	p, err := w.Backend.List(ctx, opts)
	w.m.end(err)
	return p, err
}

func (w *meteredCompute) Results(ctx context.Context, id compute.JobID) ([]compute.Result, error) {
	ctx, cancel := w.m.begin(ctx)
	defer cancel()
	rs, err := w.Backend.Results(ctx, id)
	w.m.end(err)
	return rs, err
}

func (w *meteredCompute) OpenResult(ctx context.Context, id compute.JobID, name string) (io.ReadCloser, compute.Result, error) {
	ctx, cancel := w.m.begin(ctx)
	defer cancel()
	rc, r, err := w.Backend.OpenResult(ctx, id, name)
	w.m.end(err)
	return rc, r, err
}
