package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/nvm-node/nvm-node/sdk/compute"
	"github.com/nvm-node/nvm-node/sdk/internal/pbconv"
	"github.com/nvm-node/nvm-node/sdk/internal/pluginpb"
	"github.com/nvm-node/nvm-node/sdk/internal/wasmabi"
	"github.com/nvm-node/nvm-node/sdk/plugin"
)

// Scheduling of a compute module's jobs, which run only inside the
// module's OpStep (see sdk/internal/wasmabi).
const (
	// StepBudget is how long one step lets the module's jobs run before
	// the instance is released to other calls.
	StepBudget = 2 * time.Millisecond
	// DefaultStepTimeout bounds a step when Config.CallTimeout is not set:
	// job code that never yields is stopped, with its instance, after it.
	DefaultStepTimeout = 30 * time.Second
	// busyStep: a step that took longer than this ran some job code, so
	// the next one follows at once.
	busyStep = 200 * time.Microsecond
	// minPause and maxPause bound the wait between idle steps, and between
	// polls of a stream with nothing new yet. A waiting job (a timer, a
	// followed log) sees time pass with this granularity.
	minPause = time.Millisecond
	maxPause = 20 * time.Millisecond
)

// Compute is a compute.Backend served by a module.
//
// Job ids are the module's ids with the instance's random tag appended
// ("job-1@9f3a0c21"): jobs live in module memory, so when an instance is
// replaced its jobs are gone, and their ids must not name the fresh
// instance's jobs. Calls naming them fail with compute.ErrJobNotFound
// wrapped with plugin.ErrUnavailable.
type Compute struct {
	conn

	wake       chan struct{} // a job was submitted: step
	stop       chan struct{} // Close: the driver returns
	stopOnce   sync.Once
	driverDone chan struct{}
	stepCtx    context.Context // cancelled when Close gives up waiting for a step
	cancelStep context.CancelFunc
}

var _ compute.Backend = (*Compute)(nil)

// OpenCompute starts the module, checks its ABI version and Info (kind,
// id and compute API version) and returns the backend, not yet
// configured. The backend runs one goroutine that steps the module's
// jobs, until Close.
func OpenCompute(ctx context.Context, cfg Config) (*Compute, error) {
	c := &Compute{conn: conn{cfg: cfg}, wake: make(chan struct{}, 1), stop: make(chan struct{}), driverDone: make(chan struct{})}
	if err := c.start(ctx, plugin.KindCompute, compute.APIVersion); err != nil {
		return nil, err
	}
	c.stepCtx, c.cancelStep = context.WithCancel(context.WithoutCancel(ctx))
	go c.drive()
	return c, nil
}

// drive steps the module while it has active jobs: at once after a busy
// step, after a growing pause after idle ones, and not at all when no job
// is active until the next Submit.
func (c *Compute) drive() {
	defer close(c.driverDone)
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		pause := minPause
		for {
			t := time.Now()
			active, err := c.step()
			if err != nil || active == 0 {
				break
			}
			if time.Since(t) > busyStep {
				pause = minPause
				runtime.Gosched() // let callers waiting for the instance in
				continue
			}
			timer := time.NewTimer(pause)
			select {
			case <-c.stop:
				timer.Stop()
				return
			case <-c.wake:
				pause = minPause
			case <-timer.C:
				pause = min(2*pause, maxPause)
			}
			timer.Stop()
		}
	}
}

// step runs one OpStep and returns the number of active jobs. It starts
// no instance: a discarded instance took its jobs with it.
func (c *Compute) step() (uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stepLocked()
}

func (c *Compute) stepLocked() (uint32, error) {
	ctx, cancel := context.WithTimeout(c.stepCtx, c.stepTimeout())
	defer cancel()
	if c.closed || c.inst == nil {
		return 0, nil
	}
	st, payload, err := c.callLocked(ctx, wasmabi.OpStep, 0, nil, int(StepBudget/time.Microsecond))
	if err != nil {
		return 0, err
	}
	if st != wasmabi.StatusOK {
		return 0, c.decode(st, payload, nil)
	}
	return wasmabi.ParseCount(payload)
}

// stepTimeout bounds what the module's job code may hold the instance
// for: a step, and the Close that waits for jobs to end.
func (c *Compute) stepTimeout() time.Duration {
	if c.cfg.CallTimeout > 0 {
		return c.cfg.CallTimeout
	}
	return DefaultStepTimeout
}

func (c *Compute) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Close stops the driver (waiting for a step in progress, or until ctx is
// done, then stopping the instance), closes the backend in the module,
// then the instance, then runs Config.OnClose.
func (c *Compute) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	c.stopOnce.Do(func() { close(c.stop) })
	select {
	case <-c.driverDone:
	case <-ctx.Done():
		c.cancelStep()
		<-c.driverDone
	}
	c.cancelStep()
	// The backend's Close waits for its jobs, whose code may not return:
	// the step limit bounds it too.
	ctx, cancel := context.WithTimeout(ctx, c.stepTimeout())
	defer cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeLocked(ctx)
}

// errInstanceGone explains a job id of a discarded instance.
func (c *conn) errInstanceGone() error {
	return fmt.Errorf("%w: the module instance that ran it was replaced after a failure, and its jobs with it (plugin %s: %w)", compute.ErrJobNotFound, c.cfg.ID, plugin.ErrUnavailable)
}

// guestID splits a job id into the module's id and the instance tag.
func guestID(id compute.JobID) (string, string, bool) {
	i := strings.LastIndexByte(string(id), '@')
	if i < 0 {
		return "", "", false
	}
	return string(id[:i]), string(id[i+1:]), true
}

// hostID is the id the caller sees of a module's job.
func hostID(guest, tag string) compute.JobID { return compute.JobID(guest + "@" + tag) }

// cerr gives err the operation and the caller's job id.
func cerr(op string, id compute.JobID, err error) error {
	if err == nil {
		return nil
	}
	var ce *compute.Error
	if errors.As(err, &ce) {
		if ce.Job != "" {
			ce.Job = id
		}
		return err
	}
	return &compute.Error{Op: op, Job: id, Err: err}
}

// precheck refuses calls after Close or with a done context.
func (c *Compute) precheck(ctx context.Context, op string, id compute.JobID) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	switch {
	case closed:
		return &compute.Error{Op: op, Job: id, Err: fmt.Errorf("plugin %s: %w", c.cfg.ID, plugin.ErrClosed)}
	case ctx.Err() != nil:
		return &compute.Error{Op: op, Job: id, Err: ctx.Err()}
	}
	return nil
}

// jobCallLocked runs op for job id on the live instance, refusing ids of
// other instances, and returns the response's status and payload.
func (c *Compute) jobCallLocked(ctx context.Context, op wasmabi.Op, id compute.JobID, req proto.Message) (wasmabi.Status, []byte, error) {
	b, err := proto.Marshal(req)
	if err != nil {
		return 0, nil, compute.ErrJobNotFound // only an id that is not UTF-8 fails, and no job has one
	}
	// No live instance means the last one failed, taking every job there
	// is with it: no need to start one to say so.
	_, tag, _ := guestID(id)
	if c.inst == nil || tag != c.inst.tag {
		if c.closed {
			return 0, nil, fmt.Errorf("plugin %s: %w", c.cfg.ID, plugin.ErrClosed)
		}
		return 0, nil, c.errInstanceGone()
	}
	return c.callLocked(ctx, op, 0, b, 0)
}

// jobCall checks id, runs op and decodes the response into resp.
func (c *Compute) jobCall(ctx context.Context, op wasmabi.Op, name string, id compute.JobID, req, resp proto.Message) error {
	if err := c.precheck(ctx, name, id); err != nil {
		return err
	}
	if _, _, ok := guestID(id); !ok {
		return &compute.Error{Op: name, Job: id, Err: compute.ErrJobNotFound}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st, payload, err := c.jobCallLocked(ctx, op, id, req)
	if err == nil {
		err = c.decode(st, payload, resp)
	}
	return cerr(name, id, err)
}

func guestReq(id compute.JobID) string { g, _, _ := guestID(id); return g }

// Submit implements compute.Backend.
func (c *Compute) Submit(ctx context.Context, spec compute.JobSpec) (compute.JobID, error) {
	if err := c.precheck(ctx, "submit", ""); err != nil {
		return "", err
	}
	b, err := proto.Marshal(&pluginpb.SubmitRequest{Spec: pbconv.SpecToPB(spec)})
	if err != nil {
		return "", &compute.Error{Op: "submit", Err: fmt.Errorf("%w: strings must be UTF-8", compute.ErrInvalidSpec)}
	}
	c.mu.Lock()
	st, payload, err := c.callLocked(ctx, wasmabi.OpSubmit, 0, b, 0)
	var resp pluginpb.SubmitResponse
	if err == nil {
		err = c.decode(st, payload, &resp)
	}
	var tag string
	var active uint32
	if err == nil && c.inst != nil {
		tag = c.inst.tag
		// A first step at once starts the job without waiting for the
		// driver, which would have to win the instance from the callers
		// first. Should it fail, the job was accepted and then lost with
		// its instance, which its id reports.
		active, _ = c.stepLocked()
	}
	c.mu.Unlock()
	if err != nil {
		return "", cerr("submit", "", err)
	}
	if tag == "" {
		return "", &compute.Error{Op: "submit", Err: fmt.Errorf("plugin %s: the module instance failed: %w", c.cfg.ID, plugin.ErrUnavailable)}
	}
	if active > 0 {
		c.poke()
	}
	return hostID(resp.Id, tag), nil
}

// Status implements compute.Backend.
func (c *Compute) Status(ctx context.Context, id compute.JobID) (compute.Status, error) {
	var r pluginpb.JobStatus
	if err := c.jobCall(ctx, wasmabi.OpStatus, "status", id, &pluginpb.JobRequest{Id: guestReq(id)}, &r); err != nil {
		return compute.Status{}, err
	}
	st := pbconv.StatusFromPB(&r)
	st.ID = id
	return st, nil
}

// Stop implements compute.Backend.
func (c *Compute) Stop(ctx context.Context, id compute.JobID) error {
	return c.jobCall(ctx, wasmabi.OpStop, "stop", id, &pluginpb.JobRequest{Id: guestReq(id)}, nil)
}

// Results implements compute.Backend.
func (c *Compute) Results(ctx context.Context, id compute.JobID) ([]compute.Result, error) {
	var r pluginpb.ResultsResponse
	if err := c.jobCall(ctx, wasmabi.OpResults, "results", id, &pluginpb.JobRequest{Id: guestReq(id)}, &r); err != nil {
		return nil, err
	}
	rs := make([]compute.Result, 0, len(r.Results))
	for _, p := range r.Results {
		rs = append(rs, pbconv.ResultFromPB(p))
	}
	return rs, nil
}

// List implements compute.Backend.
func (c *Compute) List(ctx context.Context, opts compute.ListOptions) (compute.ListPage, error) {
	if err := c.precheck(ctx, "list", ""); err != nil {
		return compute.ListPage{}, err
	}
	req := &pluginpb.JobListRequest{Limit: int32(min(max(opts.Limit, 0), 1<<30))}
	for _, s := range opts.States {
		req.States = append(req.States, string(s))
	}
	var after string
	if opts.After != "" {
		var ok bool
		if after, _, ok = guestID(opts.After); !ok {
			return compute.ListPage{}, &compute.Error{Op: "list", Job: opts.After, Err: compute.ErrJobNotFound}
		}
	}
	req.After = after
	c.mu.Lock()
	defer c.mu.Unlock()
	var (
		st      wasmabi.Status
		payload []byte
		err     error
	)
	if opts.After != "" {
		st, payload, err = c.jobCallLocked(ctx, wasmabi.OpJobList, opts.After, req)
	} else {
		var b []byte
		if b, err = proto.Marshal(req); err == nil {
			st, payload, err = c.callLocked(ctx, wasmabi.OpJobList, 0, b, 0)
		}
	}
	var r pluginpb.JobListResponse
	if err == nil {
		err = c.decode(st, payload, &r)
	}
	if err != nil {
		return compute.ListPage{}, cerr("list", opts.After, err)
	}
	tag := c.inst.tag
	page := compute.ListPage{}
	if r.Next != "" {
		page.Next = hostID(r.Next, tag)
	}
	for _, j := range r.Jobs {
		s := pbconv.StatusFromPB(j)
		s.ID = hostID(string(s.ID), tag)
		page.Jobs = append(page.Jobs, s)
	}
	return page, nil
}

// Logs implements compute.Backend.
func (c *Compute) Logs(ctx context.Context, id compute.JobID, opts compute.LogOptions) (io.ReadCloser, error) {
	rc, _, err := c.openStream(ctx, wasmabi.OpLogs, "logs", id, &pluginpb.LogsRequest{Id: guestReq(id), Follow: opts.Follow})
	return rc, err
}

// OpenResult implements compute.Backend.
func (c *Compute) OpenResult(ctx context.Context, id compute.JobID, name string) (io.ReadCloser, compute.Result, error) {
	rc, rest, err := c.openStream(ctx, wasmabi.OpOpenResult, "open-result", id, &pluginpb.OpenResultRequest{Id: guestReq(id), Name: name})
	if err != nil {
		return nil, compute.Result{}, err
	}
	var r pluginpb.Result
	if err := proto.Unmarshal(rest, &r); err != nil {
		rc.Close()
		return nil, compute.Result{}, &compute.Error{Op: "open-result", Job: id, Err: fmt.Errorf("plugin %s: undecodable result: %w", c.cfg.ID, plugin.ErrInternal)}
	}
	return rc, pbconv.ResultFromPB(&r), nil
}

// openStream opens a handle-based stream and returns its reader and the
// rest of the response.
func (c *Compute) openStream(ctx context.Context, op wasmabi.Op, name string, id compute.JobID, req proto.Message) (io.ReadCloser, []byte, error) {
	if err := c.precheck(ctx, name, id); err != nil {
		return nil, nil, err
	}
	if _, _, ok := guestID(id); !ok {
		return nil, nil, &compute.Error{Op: name, Job: id, Err: compute.ErrJobNotFound}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st, payload, err := c.jobCallLocked(ctx, op, id, req)
	if err == nil && st != wasmabi.StatusOK {
		err = c.decode(st, payload, nil)
	}
	if err != nil {
		return nil, nil, cerr(name, id, err)
	}
	h, rest, err := wasmabi.SplitHandle(payload)
	if err != nil {
		return nil, nil, &compute.Error{Op: name, Job: id, Err: fmt.Errorf("plugin %s: %v: %w", c.cfg.ID, err, plugin.ErrInternal)}
	}
	rest = append([]byte(nil), rest...) // module memory is reused by the next call
	return &stream{c: c, gen: c.inst.gen, h: h, op: name, job: id, closing: make(chan struct{})}, rest, nil
}

// stream pulls a Logs or OpenResult stream from the module. When the
// module has nothing yet (a followed log), it waits outside the instance
// and asks again, until Close.
type stream struct {
	c   *Compute
	gen uint64
	h   uint32
	op  string
	job compute.JobID

	closing   chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex // serialises Read and the end of Close
	buf     []byte
	pending []byte
	err     error
	closed  bool
}

var errStreamClosed = errors.New("read on closed plugin stream")

func (r *stream) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, errStreamClosed
	}
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	if r.err != nil {
		return 0, r.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	pause := minPause
	for {
		n, err := r.fetch(min(len(p), wasmabi.ChunkSize))
		if err != nil {
			r.err = err
			return 0, err
		}
		if n > 0 {
			m := copy(p, r.buf[:n])
			r.pending = r.buf[m:n]
			return m, nil
		}
		timer := time.NewTimer(pause)
		select {
		case <-r.closing:
			timer.Stop()
			return 0, errStreamClosed
		case <-timer.C:
		}
		pause = min(2*pause, maxPause)
	}
}

// fetch asks the module for up to n bytes into r.buf; 0 bytes and no
// error means nothing yet.
func (r *stream) fetch(n int) (int, error) {
	c := r.c
	ctx, cancel := c.bounded(context.Background())
	defer cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := r.staleLocked(); err != nil {
		return 0, err
	}
	st, payload, err := c.callLocked(ctx, wasmabi.OpRead, r.h, nil, n)
	switch {
	case err != nil:
		return 0, cerr(r.op, r.job, err)
	case st == wasmabi.StatusEOF:
		return 0, io.EOF
	case st != wasmabi.StatusOK:
		return 0, cerr(r.op, r.job, c.decode(st, payload, nil))
	}
	if cap(r.buf) < len(payload) {
		r.buf = make([]byte, max(len(payload), 32<<10))
	}
	r.buf = r.buf[:cap(r.buf)]
	return copy(r.buf, payload), nil
}

func (r *stream) staleLocked() error {
	c := r.c
	switch {
	case c.closed:
		return &compute.Error{Op: r.op, Job: r.job, Err: fmt.Errorf("plugin %s: %w", c.cfg.ID, plugin.ErrClosed)}
	case c.inst == nil || c.inst.gen != r.gen:
		return &compute.Error{Op: r.op, Job: r.job, Err: fmt.Errorf("plugin %s: the module instance serving this stream failed: %w", c.cfg.ID, plugin.ErrUnavailable)}
	}
	return nil
}

// Close releases a Read waiting for data, then the module's handle.
func (r *stream) Close() error {
	r.closeOnce.Do(func() { close(r.closing) })
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	c := r.c
	ctx, cancel := c.bounded(context.Background())
	defer cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.staleLocked() == nil {
		c.callLocked(ctx, wasmabi.OpCloseHandle, r.h, nil, 0)
	}
	return nil
}
