// Package computetest is the conformance suite every compute.Backend must
// pass, whatever its runtime: call Run from a test with a function that
// returns a fresh, configured backend and three job specs it can run.
//
// The suite checks the rules of package compute: job states and their
// order, logs (and following them), results, Stop, List pages and filters,
// sentinels under errors.Is and the typed error under errors.As, concurrent
// submits, context cancellation and Close semantics.
package computetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nvm-node/nvm-node/sdk/compute"
	"github.com/nvm-node/nvm-node/sdk/plugin"
)

// Options configure Run.
type Options struct {
	// New returns a configured backend with no jobs. The suite closes it.
	New func(t *testing.T) compute.Backend
	// Succeeding returns a spec that succeeds, writes a non-empty log, and
	// writes every output it declares (it must declare at least one). Give
	// it labels to check they come back in Status.
	Succeeding func() compute.JobSpec
	// Running returns a spec that runs until stopped.
	Running func() compute.JobSpec
	// Failing returns a spec that fails.
	Failing func() compute.JobSpec
	// Wait bounds every wait for a job to change state; zero means 30s.
	Wait time.Duration
}

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, o Options) {
	t.Helper()
	if o.Wait == 0 {
		o.Wait = 30 * time.Second
	}
	s := &suite{o: o}
	t.Run("Info", s.testInfo)
	t.Run("InvalidSpec", s.testInvalidSpec)
	t.Run("Succeeds", s.testSucceeds)
	t.Run("Fails", s.testFails)
	t.Run("Stop", s.testStop)
	t.Run("LogsFollow", s.testLogsFollow)
	t.Run("UnknownJob", s.testUnknownJob)
	t.Run("List", s.testList)
	t.Run("ConcurrentSubmit", s.testConcurrent)
	t.Run("ContextCancelled", s.testCancelled)
	t.Run("Close", s.testClose)
}

type suite struct{ o Options }

func (s *suite) backend(t *testing.T) compute.Backend {
	t.Helper()
	b := s.o.New(t)
	t.Cleanup(func() {
		if err := b.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

func wantErr(t *testing.T, what string, err, target error, op string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want one wrapping %q", what, err, target)
		return
	}
	if op == "" {
		return
	}
	var ce *compute.Error
	if !errors.As(err, &ce) {
		t.Errorf("%s: error %v (%T) is not a *compute.Error", what, err, err)
	} else if ce.Op != op {
		t.Errorf("%s: compute.Error.Op = %q, want %q", what, ce.Op, op)
	}
}

func submit(t *testing.T, b compute.Backend, spec compute.JobSpec) compute.JobID {
	t.Helper()
	id, err := b.Submit(t.Context(), spec)
	if err != nil {
		t.Fatalf("Submit(%+v): %v", spec, err)
	}
	if id == "" {
		t.Fatal("Submit returned an empty job id")
	}
	return id
}

// waitFor polls Status until ok accepts it.
func (s *suite) waitFor(t *testing.T, b compute.Backend, id compute.JobID, what string, ok func(compute.Status) bool) compute.Status {
	t.Helper()
	deadline := time.Now().Add(s.o.Wait)
	for {
		st, err := b.Status(t.Context(), id)
		if err != nil {
			t.Fatalf("Status(%s): %v", id, err)
		}
		if st.ID != id {
			t.Fatalf("Status(%s).ID = %q", id, st.ID)
		}
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s not %s after %v: %+v", id, what, s.o.Wait, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func final(st compute.Status) bool { return st.State.Final() }

func readLogs(t *testing.T, b compute.Backend, id compute.JobID, follow bool) string {
	t.Helper()
	rc, err := b.Logs(t.Context(), id, compute.LogOptions{Follow: follow})
	if err != nil {
		t.Fatalf("Logs(%s): %v", id, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading logs of %s: %v", id, err)
	}
	return string(data)
}

func (s *suite) testInfo(t *testing.T) {
	b := s.backend(t)
	i, err := b.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := i.Validate(); err != nil {
		t.Error(err)
	}
	if i.Kind != plugin.KindCompute || i.APIVersion != compute.APIVersion {
		t.Errorf("Info = %+v, want kind compute, API version %d", i, compute.APIVersion)
	}
}

func (s *suite) testInvalidSpec(t *testing.T) {
	b := s.backend(t)
	for name, mut := range map[string]func(*compute.JobSpec){
		"empty algorithm": func(s *compute.JobSpec) { s.Algorithm.Ref = ""; s.Federated = nil },
		"escaping output": func(s *compute.JobSpec) {
			s.Outputs = append(s.Outputs, compute.Output{Name: "evil", Path: "../../etc/passwd"})
		},
		"negative memory":  func(s *compute.JobSpec) { s.Resources.MemoryBytes = -1 },
		"unknown param":    func(s *compute.JobSpec) { s.Params = map[string]string{"computetest.no-such-param": "x"} },
		"bad federated":    func(s *compute.JobSpec) { s.Federated = &compute.Federated{Role: "emperor"} },
		"duplicate output": func(s *compute.JobSpec) { s.Outputs = append(s.Outputs, s.Outputs...) },
	} {
		spec := s.o.Succeeding()
		mut(&spec)
		_, err := b.Submit(t.Context(), spec)
		wantErr(t, "Submit with "+name, err, compute.ErrInvalidSpec, "submit")
	}
}

func (s *suite) testSucceeds(t *testing.T) {
	b := s.backend(t)
	spec := s.o.Succeeding()
	if len(spec.Outputs) == 0 {
		t.Fatal("Options.Succeeding must declare at least one output")
	}
	before := time.Now().Add(-time.Minute)
	id := submit(t, b, spec)
	st := s.waitFor(t, b, id, "final", final)
	if st.State != compute.StateSucceeded {
		t.Fatalf("job ended %s (%s), want succeeded", st.State, st.Message)
	}
	if st.Created.Before(before) || st.Finished.Before(st.Created) || st.Name != spec.Name {
		t.Errorf("status %+v: times out of order or name lost", st)
	}
	if !maps.Equal(st.Labels, spec.Labels) {
		t.Errorf("status labels %v, spec labels %v", st.Labels, spec.Labels)
	}
	if logs := readLogs(t, b, id, false); logs == "" {
		t.Error("succeeded job has empty logs")
	}
	if logs := readLogs(t, b, id, true); logs == "" {
		t.Error("following the logs of a finished job gave nothing (it must end at EOF with the logs)")
	}
	rs, err := b.Results(t.Context(), id)
	if err != nil {
		t.Fatalf("Results: %v", err)
	}
	var names []string
	for _, r := range rs {
		names = append(names, r.Name)
		rc, ri, err := b.OpenResult(t.Context(), id, r.Name)
		if err != nil {
			t.Errorf("OpenResult(%q): %v", r.Name, err)
			continue
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || int64(len(data)) != r.Size || ri.Size != r.Size || ri.Name != r.Name {
			t.Errorf("result %q: read %d bytes (%v), listed %+v, opened %+v", r.Name, len(data), err, r, ri)
		}
	}
	for _, o := range spec.Outputs {
		if !slices.Contains(names, o.Name) {
			t.Errorf("Results %v lacks declared output %q", names, o.Name)
		}
	}
	_, _, err = b.OpenResult(t.Context(), id, "computetest-no-such-output")
	wantErr(t, "OpenResult of an undeclared output", err, compute.ErrResultNotFound, "open-result")
	if err := b.Stop(t.Context(), id); err != nil {
		t.Errorf("Stop of a finished job: %v", err)
	}
	if st := s.waitFor(t, b, id, "final", final); st.State != compute.StateSucceeded {
		t.Errorf("Stop changed a finished job to %s", st.State)
	}
}

func (s *suite) testFails(t *testing.T) {
	b := s.backend(t)
	id := submit(t, b, s.o.Failing())
	st := s.waitFor(t, b, id, "final", final)
	if st.State != compute.StateFailed {
		t.Fatalf("failing job ended %s", st.State)
	}
	if st.Message == "" {
		t.Error("failed job has no message")
	}
	if _, err := b.Results(t.Context(), id); err == nil {
		t.Error("Results of a failed job succeeded")
	}
}

func (s *suite) testStop(t *testing.T) {
	b := s.backend(t)
	id := submit(t, b, s.o.Running())
	s.waitFor(t, b, id, "running", func(st compute.Status) bool { return st.State == compute.StateRunning })
	_, err := b.Results(t.Context(), id)
	wantErr(t, "Results of a running job", err, compute.ErrJobNotFinished, "results")
	_, _, err = b.OpenResult(t.Context(), id, "any")
	wantErr(t, "OpenResult of a running job", err, compute.ErrJobNotFinished, "open-result")
	if err := b.Stop(t.Context(), id); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	st := s.waitFor(t, b, id, "final", final)
	if st.State != compute.StateStopped || st.Finished.IsZero() {
		t.Errorf("stopped job status %+v, want stopped with a finish time", st)
	}
	if err := b.Stop(t.Context(), id); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func (s *suite) testLogsFollow(t *testing.T) {
	b := s.backend(t)
	i, _ := b.Info(t.Context())
	if !i.Has(compute.CapLogsFollow) {
		t.Skip("backend does not declare " + compute.CapLogsFollow)
	}
	id := submit(t, b, s.o.Running())
	s.waitFor(t, b, id, "running", func(st compute.Status) bool { return st.State == compute.StateRunning })
	rc, err := b.Logs(t.Context(), id, compute.LogOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, rc); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("following the logs of a running job ended early: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := b.Stop(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("followed logs ended with %v, want EOF", err)
		}
	case <-time.After(s.o.Wait):
		t.Fatal("followed logs did not end after the job was stopped")
	}

	// Closing a followed stream releases a reader blocked on it.
	id = submit(t, b, s.o.Running())
	rc2, err := b.Logs(t.Context(), id, compute.LogOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, err := io.Copy(io.Discard, rc2); done <- err }()
	time.Sleep(50 * time.Millisecond)
	rc2.Close()
	select {
	case <-done:
	case <-time.After(s.o.Wait):
		t.Fatal("Close of a followed log stream did not release its reader")
	}
	if err := b.Stop(t.Context(), id); err != nil {
		t.Fatal(err)
	}
}

func (s *suite) testUnknownJob(t *testing.T) {
	b := s.backend(t)
	ctx := t.Context()
	const id = compute.JobID("computetest-no-such-job")
	_, err := b.Status(ctx, id)
	wantErr(t, "Status", err, compute.ErrJobNotFound, "status")
	_, err = b.Logs(ctx, id, compute.LogOptions{})
	wantErr(t, "Logs", err, compute.ErrJobNotFound, "logs")
	wantErr(t, "Stop", b.Stop(ctx, id), compute.ErrJobNotFound, "stop")
	_, err = b.Results(ctx, id)
	wantErr(t, "Results", err, compute.ErrJobNotFound, "results")
	_, _, err = b.OpenResult(ctx, id, "x")
	wantErr(t, "OpenResult", err, compute.ErrJobNotFound, "open-result")
}

func (s *suite) testList(t *testing.T) {
	b := s.backend(t)
	var ids []compute.JobID
	for range 3 {
		id := submit(t, b, s.o.Succeeding())
		s.waitFor(t, b, id, "final", final)
		ids = append(ids, id)
	}
	running := submit(t, b, s.o.Running())
	defer b.Stop(context.Background(), running)
	s.waitFor(t, b, running, "running", func(st compute.Status) bool { return st.State == compute.StateRunning })
	ids = append(ids, running)

	var got []compute.JobID
	opts := compute.ListOptions{Limit: 1}
	for range 10 {
		p, err := b.List(t.Context(), opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Jobs) > 1 {
			t.Fatalf("List with limit 1 gave %d jobs", len(p.Jobs))
		}
		for _, j := range p.Jobs {
			got = append(got, j.ID)
		}
		if p.Next == "" {
			break
		}
		opts.After = p.Next
	}
	if !slices.Equal(got, ids) {
		t.Errorf("paged List = %v, want %v (oldest first)", got, ids)
	}
	p, err := b.List(t.Context(), compute.ListOptions{States: []compute.State{compute.StateRunning}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Jobs) != 1 || p.Jobs[0].ID != running {
		t.Errorf("List(running) = %+v, want only %s", p.Jobs, running)
	}
}

func (s *suite) testConcurrent(t *testing.T) {
	b := s.backend(t)
	var mu sync.Mutex
	seen := map[compute.JobID]bool{}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			spec := s.o.Succeeding()
			spec.Name = fmt.Sprintf("concurrent-%d", i)
			id, err := b.Submit(t.Context(), spec)
			if err != nil {
				t.Errorf("Submit: %v", err)
				return
			}
			mu.Lock()
			dup := seen[id]
			seen[id] = true
			mu.Unlock()
			if dup {
				t.Errorf("job id %s given twice", id)
			}
			if st := s.waitFor(t, b, id, "final", final); st.State != compute.StateSucceeded || st.Name != spec.Name {
				t.Errorf("concurrent job %s: %+v", id, st)
			}
		})
	}
	wg.Wait()
}

func (s *suite) testCancelled(t *testing.T) {
	b := s.backend(t)
	id := submit(t, b, s.o.Succeeding())
	s.waitFor(t, b, id, "final", final)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := b.Submit(ctx, s.o.Succeeding())
	wantErr(t, "Submit", err, context.Canceled, "")
	_, err = b.Status(ctx, id)
	wantErr(t, "Status", err, context.Canceled, "")
	_, err = b.Logs(ctx, id, compute.LogOptions{})
	wantErr(t, "Logs", err, context.Canceled, "")
	wantErr(t, "Stop", b.Stop(ctx, id), context.Canceled, "")
	_, err = b.List(ctx, compute.ListOptions{})
	wantErr(t, "List", err, context.Canceled, "")
	_, err = b.Results(ctx, id)
	wantErr(t, "Results", err, context.Canceled, "")
	p, err := b.List(t.Context(), compute.ListOptions{})
	if err != nil || len(p.Jobs) != 1 {
		t.Errorf("after a cancelled Submit, List = %+v, %v; want the one earlier job", p.Jobs, err)
	}
}

func (s *suite) testClose(t *testing.T) {
	b := s.o.New(t)
	ctx := t.Context()
	id := submit(t, b, s.o.Running())
	closeCtx, cancel := context.WithTimeout(ctx, s.o.Wait)
	defer cancel()
	if err := b.Close(closeCtx); err != nil {
		t.Fatalf("Close with a running job: %v", err)
	}
	_, err := b.Submit(ctx, s.o.Succeeding())
	wantErr(t, "Submit after Close", err, plugin.ErrClosed, "")
	_, err = b.Status(ctx, id)
	wantErr(t, "Status after Close", err, plugin.ErrClosed, "")
	_, err = b.List(ctx, compute.ListOptions{})
	wantErr(t, "List after Close", err, plugin.ErrClosed, "")
	wantErr(t, "Stop after Close", b.Stop(ctx, id), plugin.ErrClosed, "")
	if err := b.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
