// Package memcompute is a compute backend that runs jobs as Go functions in
// the calling process, for tests and as the smallest complete example of a
// compute.Backend.
//
// A job's Algorithm.Ref names a function. Three are built in:
//
//   - "echo": logs each argument on its own line, then writes each declared
//     output with the content "<output name>: <args joined by spaces>".
//   - "sleep": logs "sleeping" and waits until stopped or timed out.
//   - "fail": logs "failing" and fails with exit code 1.
//
// More can be added with WithFunc. Logs and outputs are kept in memory.
package memcompute

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nvm-node/nvm-node/sdk/compute"
	"github.com/nvm-node/nvm-node/sdk/plugin"
)

// Name is the backend's name; its plugin id is "compute.memory".
const Name = "memory"

// Func runs one job. It must return when ctx is done (the job was stopped,
// timed out or the backend closed).
type Func func(ctx context.Context, job *Job) error

// Job is what a Func sees of its job.
type Job struct {
	Spec compute.JobSpec
	// Log receives the job's log output; it is safe for concurrent use.
	Log io.Writer

	j *job
}

// WriteOutput stores an output declared in the spec under its name.
func (j *Job) WriteOutput(name string, data []byte) error {
	if !slices.ContainsFunc(j.Spec.Outputs, func(o compute.Output) bool { return o.Name == name }) {
		return fmt.Errorf("output %q is not declared in the spec", name)
	}
	j.j.mu.Lock()
	defer j.j.mu.Unlock()
	j.j.outputs[name] = bytes.Clone(data)
	return nil
}

// ExitError makes a job fail with the given exit code.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return "exit code " + strconv.Itoa(e.Code) }

// Option configures a Backend.
type Option func(*Backend)

// WithFunc makes ref run f, replacing any function of that name.
func WithFunc(ref string, f Func) Option { return func(b *Backend) { b.funcs[ref] = f } }

type job struct {
	mu      sync.Mutex
	status  compute.Status
	spec    compute.JobSpec
	log     []byte
	changed chan struct{} // closed and replaced when log or status change
	outputs map[string][]byte
	cancel  context.CancelFunc
	done    chan struct{}
	stopped bool
}

func (j *job) notifyLocked() {
	close(j.changed)
	j.changed = make(chan struct{})
}

type logWriter struct{ j *job }

func (w logWriter) Write(p []byte) (int, error) {
	w.j.mu.Lock()
	defer w.j.mu.Unlock()
	w.j.log = append(w.j.log, p...)
	w.j.notifyLocked()
	return len(p), nil
}

// Backend is an in-memory compute.Backend. Call New, then Configure.
type Backend struct {
	funcs map[string]Func

	mu         sync.Mutex
	jobs       map[compute.JobID]*job
	order      []compute.JobID
	seq        int
	configured bool
	closed     bool
	wg         sync.WaitGroup
}

var _ compute.Backend = (*Backend)(nil)

// New returns an unconfigured backend with the built-in functions and those
// given as options.
func New(opts ...Option) *Backend {
	b := &Backend{funcs: map[string]Func{"echo": echo, "sleep": sleep, "fail": fail}, jobs: map[compute.JobID]*job{}}
	for _, o := range opts {
		o(b)
	}
	return b
}

func echo(ctx context.Context, j *Job) error {
	for _, a := range j.Spec.Args {
		fmt.Fprintln(j.Log, a)
	}
	for _, o := range j.Spec.Outputs {
		if err := j.WriteOutput(o.Name, []byte(o.Name+": "+strings.Join(j.Spec.Args, " "))); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func sleep(ctx context.Context, j *Job) error {
	fmt.Fprintln(j.Log, "sleeping")
	<-ctx.Done()
	return ctx.Err()
}

func fail(_ context.Context, j *Job) error {
	fmt.Fprintln(j.Log, "failing")
	return &ExitError{Code: 1}
}

// Info implements plugin.Plugin.
func (b *Backend) Info(context.Context) (plugin.Info, error) {
	return plugin.Info{
		Kind: plugin.KindCompute, Name: Name, Version: "v0.1.0", APIVersion: compute.APIVersion,
		Capabilities: []plugin.Capability{compute.CapLogsFollow},
	}, nil
}

// Configure implements plugin.Plugin. The backend takes no configuration.
func (b *Backend) Configure(_ context.Context, raw plugin.Config) error {
	var none struct{}
	if err := raw.Decode(&none); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return plugin.ErrClosed
	}
	b.configured = true
	return nil
}

// Close implements plugin.Plugin: it stops every running job and waits for
// their functions to return, or for ctx.
func (b *Backend) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	for _, j := range b.jobs {
		j.cancel()
	}
	b.mu.Unlock()
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("memcompute: jobs still running at close: %w", ctx.Err())
	}
}

func (b *Backend) usableLocked() error {
	switch {
	case b.closed:
		return plugin.ErrClosed
	case !b.configured:
		return plugin.ErrNotConfigured
	}
	return nil
}

func (b *Backend) get(op string, id compute.JobID) (*job, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usableLocked(); err != nil {
		return nil, &compute.Error{Op: op, Job: id, Err: err}
	}
	j, ok := b.jobs[id]
	if !ok {
		return nil, &compute.Error{Op: op, Job: id, Err: compute.ErrJobNotFound}
	}
	return j, nil
}

// Submit implements compute.Backend.
func (b *Backend) Submit(ctx context.Context, spec compute.JobSpec) (compute.JobID, error) {
	bad := func(err error) (compute.JobID, error) { return "", &compute.Error{Op: "submit", Err: err} }
	if err := ctx.Err(); err != nil {
		return bad(err)
	}
	if err := spec.Validate(); err != nil {
		return bad(err)
	}
	switch {
	case spec.Federated != nil:
		return bad(fmt.Errorf("%w: federated jobs: %w", compute.ErrInvalidSpec, errors.ErrUnsupported))
	case len(spec.Params) > 0:
		return bad(fmt.Errorf("%w: unknown params %v", compute.ErrInvalidSpec, slices.Sorted(maps.Keys(spec.Params))))
	case spec.Resources.GPUs > 0 || spec.Resources.Network:
		return bad(fmt.Errorf("%w: GPUs and network are not available", compute.ErrInvalidSpec))
	}
	f, ok := b.funcs[spec.Algorithm.Ref]
	if !ok {
		return bad(fmt.Errorf("%w: no function %q", compute.ErrInvalidSpec, spec.Algorithm.Ref))
	}
	spec = cloneSpec(spec)

	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.usableLocked(); err != nil {
		return bad(err)
	}
	b.seq++
	id := compute.JobID(fmt.Sprintf("job-%06d", b.seq))
	// The job outlives Submit's context, so it gets its own.
	jctx, cancel := context.WithCancel(context.Background())
	if spec.Resources.Timeout > 0 {
		jctx, cancel = context.WithTimeout(context.Background(), spec.Resources.Timeout)
	}
	j := &job{
		spec: spec, changed: make(chan struct{}), outputs: map[string][]byte{}, cancel: cancel, done: make(chan struct{}),
		status: compute.Status{ID: id, Name: spec.Name, Labels: spec.Labels, State: compute.StateRunning, Created: time.Now().UTC()},
	}
	j.status.Started = j.status.Created
	b.jobs[id] = j
	b.order = append(b.order, id)
	b.wg.Add(1)
	go b.run(jctx, j, f)
	return id, nil
}

func (b *Backend) run(ctx context.Context, j *job, f Func) {
	defer b.wg.Done()
	defer close(j.done)
	err := f(ctx, &Job{Spec: j.spec, Log: logWriter{j}, j: j})
	j.cancel()
	j.mu.Lock()
	defer j.mu.Unlock()
	st := &j.status
	st.Finished = time.Now().UTC()
	var exit *ExitError
	switch {
	case j.stopped:
		st.State, st.Message = compute.StateStopped, "stopped"
	case err == nil:
		st.State = compute.StateSucceeded
	case errors.Is(err, context.DeadlineExceeded):
		st.State, st.Message, st.ExitCode = compute.StateFailed, "timed out", -1
	case errors.As(err, &exit):
		st.State, st.Message, st.ExitCode = compute.StateFailed, err.Error(), exit.Code
	default:
		st.State, st.Message, st.ExitCode = compute.StateFailed, err.Error(), -1
	}
	j.notifyLocked()
}

func cloneSpec(s compute.JobSpec) compute.JobSpec {
	s.Args = slices.Clone(s.Args)
	s.Env = maps.Clone(s.Env)
	s.Inputs = slices.Clone(s.Inputs)
	s.Outputs = slices.Clone(s.Outputs)
	s.Params = maps.Clone(s.Params)
	s.Labels = maps.Clone(s.Labels)
	s.Algorithm.Entrypoint = slices.Clone(s.Algorithm.Entrypoint)
	return s
}

func (j *job) snapshot() compute.Status {
	j.mu.Lock()
	defer j.mu.Unlock()
	st := j.status
	st.Details = maps.Clone(st.Details)
	st.Labels = maps.Clone(st.Labels)
	return st
}

// Status implements compute.Backend.
func (b *Backend) Status(ctx context.Context, id compute.JobID) (compute.Status, error) {
	if err := ctx.Err(); err != nil {
		return compute.Status{}, &compute.Error{Op: "status", Job: id, Err: err}
	}
	j, err := b.get("status", id)
	if err != nil {
		return compute.Status{}, err
	}
	return j.snapshot(), nil
}

// Stop implements compute.Backend; it returns once the job's function has
// returned, or with ctx's error.
func (b *Backend) Stop(ctx context.Context, id compute.JobID) error {
	if err := ctx.Err(); err != nil {
		return &compute.Error{Op: "stop", Job: id, Err: err}
	}
	j, err := b.get("stop", id)
	if err != nil {
		return err
	}
	j.mu.Lock()
	if !j.status.State.Final() {
		j.stopped = true
	}
	j.mu.Unlock()
	j.cancel()
	select {
	case <-j.done:
		return nil
	case <-ctx.Done():
		return &compute.Error{Op: "stop", Job: id, Err: ctx.Err()}
	}
}

// DefaultListLimit is the page size of List when ListOptions.Limit is zero.
const DefaultListLimit = 100

// List implements compute.Backend.
func (b *Backend) List(ctx context.Context, opts compute.ListOptions) (compute.ListPage, error) {
	if err := ctx.Err(); err != nil {
		return compute.ListPage{}, &compute.Error{Op: "list", Err: err}
	}
	limit := opts.Limit
	if limit <= 0 || limit > DefaultListLimit {
		limit = DefaultListLimit
	}
	b.mu.Lock()
	if err := b.usableLocked(); err != nil {
		b.mu.Unlock()
		return compute.ListPage{}, &compute.Error{Op: "list", Err: err}
	}
	start := 0
	if opts.After != "" {
		start = slices.Index(b.order, opts.After) + 1
		if start == 0 {
			b.mu.Unlock()
			return compute.ListPage{}, &compute.Error{Op: "list", Job: opts.After, Err: compute.ErrJobNotFound}
		}
	}
	var jobs []*job
	for _, id := range b.order[start:] {
		jobs = append(jobs, b.jobs[id])
	}
	b.mu.Unlock()
	var page compute.ListPage
	for _, j := range jobs {
		st := j.snapshot()
		if len(opts.States) > 0 && !slices.Contains(opts.States, st.State) {
			continue
		}
		if len(page.Jobs) == limit {
			page.Next = page.Jobs[limit-1].ID
			break
		}
		page.Jobs = append(page.Jobs, st)
	}
	return page, nil
}

// Logs implements compute.Backend.
func (b *Backend) Logs(ctx context.Context, id compute.JobID, opts compute.LogOptions) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, &compute.Error{Op: "logs", Job: id, Err: err}
	}
	j, err := b.get("logs", id)
	if err != nil {
		return nil, err
	}
	return &logReader{j: j, follow: opts.Follow, closed: make(chan struct{})}, nil
}

type logReader struct {
	j         *job
	off       int
	follow    bool
	closeOnce sync.Once
	closed    chan struct{}
}

func (r *logReader) Read(p []byte) (int, error) {
	for {
		r.j.mu.Lock()
		n := copy(p, r.j.log[r.off:])
		r.off += n
		final := r.j.status.State.Final()
		changed := r.j.changed
		r.j.mu.Unlock()
		if n > 0 || len(p) == 0 {
			return n, nil
		}
		if !r.follow || final {
			return 0, io.EOF
		}
		select {
		case <-changed:
		case <-r.closed:
			return 0, errors.New("memcompute: read on closed log stream")
		}
	}
}

func (r *logReader) Close() error {
	r.closeOnce.Do(func() { close(r.closed) })
	return nil
}

func (b *Backend) finished(op string, id compute.JobID) (*job, error) {
	j, err := b.get(op, id)
	if err != nil {
		return nil, err
	}
	st := j.snapshot()
	switch st.State {
	case compute.StateSucceeded:
		return j, nil
	case compute.StateFailed, compute.StateStopped:
		return nil, &compute.Error{Op: op, Job: id, Err: fmt.Errorf("%w: job %s: %s", compute.ErrResultNotFound, st.State, st.Message)}
	}
	return nil, &compute.Error{Op: op, Job: id, Err: compute.ErrJobNotFinished}
}

// Results implements compute.Backend.
func (b *Backend) Results(ctx context.Context, id compute.JobID) ([]compute.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, &compute.Error{Op: "results", Job: id, Err: err}
	}
	j, err := b.finished("results", id)
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	var rs []compute.Result
	for _, o := range j.spec.Outputs {
		if data, ok := j.outputs[o.Name]; ok {
			rs = append(rs, compute.Result{Name: o.Name, Size: int64(len(data)), ContentType: "application/octet-stream"})
		}
	}
	return rs, nil
}

// OpenResult implements compute.Backend.
func (b *Backend) OpenResult(ctx context.Context, id compute.JobID, name string) (io.ReadCloser, compute.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, compute.Result{}, &compute.Error{Op: "open-result", Job: id, Err: err}
	}
	j, err := b.finished("open-result", id)
	if err != nil {
		return nil, compute.Result{}, err
	}
	j.mu.Lock()
	data, ok := j.outputs[name]
	j.mu.Unlock()
	if !ok {
		return nil, compute.Result{}, &compute.Error{Op: "open-result", Job: id, Err: fmt.Errorf("%w: %q", compute.ErrResultNotFound, name)}
	}
	return io.NopCloser(bytes.NewReader(data)), compute.Result{Name: name, Size: int64(len(data)), ContentType: "application/octet-stream"}, nil
}

// SucceedingSpec returns a spec of the built-in "echo" job, for
// computetest.Options.Succeeding.
func SucceedingSpec() compute.JobSpec {
	return compute.JobSpec{
		Name:      "echo",
		Labels:    map[string]string{"agreement": "0xabc", "did": "did:nv:123"},
		Algorithm: compute.Algorithm{Ref: "echo"},
		Args:      []string{"hello", "world"},
		Outputs:   []compute.Output{{Name: "greeting", Path: "greeting.txt"}, {Name: "copy", Path: "out/copy.txt"}},
	}
}

// RunningSpec returns a spec of the built-in "sleep" job, for
// computetest.Options.Running.
func RunningSpec() compute.JobSpec {
	return compute.JobSpec{Name: "sleep", Algorithm: compute.Algorithm{Ref: "sleep"}}
}

// FailingSpec returns a spec of the built-in "fail" job, for
// computetest.Options.Failing.
func FailingSpec() compute.JobSpec {
	return compute.JobSpec{Name: "fail", Algorithm: compute.Algorithm{Ref: "fail"}}
}
