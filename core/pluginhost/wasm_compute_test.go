package pluginhost

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nvm-node/nvm-node/sdk/compute"
	"github.com/nvm-node/nvm-node/sdk/compute/memcompute"
	"github.com/nvm-node/nvm-node/sdk/computetest"
	"github.com/nvm-node/nvm-node/sdk/plugin"
)

func exampleComputeWASM(t testing.TB) Entry {
	path, sha := wasmModule(t, "compute-example.wasm")
	return Entry{ID: "compute.wasm-example", Runtime: RuntimeWASM, Path: path, SHA256: sha}
}

func computeMisbehaveWASM(t testing.TB) Entry {
	path, sha := wasmModule(t, "computemisbehave.wasm")
	return Entry{ID: "compute.misbehave", Runtime: RuntimeWASM, Path: path, SHA256: sha}
}

func TestWASMComputeConformance(t *testing.T) {
	computetest.Run(t, computetest.Options{
		New: func(t *testing.T) compute.Backend {
			b, _ := newWASMHost(t, exampleComputeWASM(t)).Compute("compute.wasm-example")
			return b
		},
		Succeeding: memcompute.SucceedingSpec,
		Running:    memcompute.RunningSpec,
		Failing:    memcompute.FailingSpec,
	})
}

// waitFinal polls Status until the job is final and returns the status.
func waitFinal(t *testing.T, b compute.Backend, id compute.JobID) compute.Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := b.Status(t.Context(), id)
		if err != nil {
			t.Fatalf("Status(%s): %v", id, err)
		}
		if st.State.Final() {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s", id, st.State)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWASMComputeExampleJob(t *testing.T) {
	b, _ := newWASMHost(t, exampleComputeWASM(t)).Compute("compute.wasm-example")
	id, err := b.Submit(t.Context(), compute.JobSpec{
		Name: "count", Algorithm: compute.Algorithm{Ref: "wordcount"},
		Args:    []string{"one two", "three", "four five six"},
		Outputs: []compute.Output{{Name: "count", Path: "count.txt"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := waitFinal(t, b, id); st.State != compute.StateSucceeded {
		t.Fatalf("wordcount ended %s: %s", st.State, st.Message)
	}
	rc, res, err := b.OpenResult(t.Context(), id, "count")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil || string(data) != "6\n" || res.Size != 2 {
		t.Errorf("result %q (%+v), %v; want \"6\\n\"", data, res, err)
	}
}

// TestWASMComputeJobsWithoutPolling checks jobs advance when nobody asks:
// the host steps the module on its own, and timers inside it fire.
func TestWASMComputeJobsWithoutPolling(t *testing.T) {
	b, _ := newWASMHost(t, computeMisbehaveWASM(t)).Compute("compute.misbehave")
	id, err := b.Submit(t.Context(), compute.JobSpec{Name: "tick", Algorithm: compute.Algorithm{Ref: "tick"}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	rc, err := b.Logs(t.Context(), id, compute.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	logs, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !strings.Contains(string(logs), "tick 5\n") {
		t.Errorf("logs after 300ms of a job ticking every 5ms: %q, %v; want at least 6 ticks", logs, err)
	}

	// A followed log delivers new ticks, and ends when the job is stopped.
	rc, err = b.Logs(t.Context(), id, compute.LogOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := make([]byte, 1<<16)
	var got []byte
	for !strings.Contains(string(got), "tick 60\n") {
		n, err := rc.Read(buf)
		if err != nil {
			t.Fatalf("following the logs: %v after %q", err, got)
		}
		got = append(got, buf[:n]...)
	}
	if err := b.Stop(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Errorf("followed logs ended with %v, want EOF", err)
	}
	if st := waitFinal(t, b, id); st.State != compute.StateStopped {
		t.Errorf("stopped job is %s", st.State)
	}
}

// TestWASMComputeStepTimeout: a job that computes without yielding is
// stopped with its instance by the call timeout; its id then reports the
// loss, and the backend runs the next job.
func TestWASMComputeStepTimeout(t *testing.T) {
	e := computeMisbehaveWASM(t)
	// The call after the failure starts a fresh instance within its own
	// timeout: a second leaves room for that on a loaded machine.
	e.Limits.CallTimeout = time.Second
	h := newWASMHost(t, e)
	b, _ := h.Compute(e.ID)
	id, err := b.Submit(t.Context(), compute.JobSpec{Name: "spin", Algorithm: compute.Algorithm{Ref: "spin"}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := b.Status(t.Context(), id)
		if err != nil {
			var ce *compute.Error
			if !errors.Is(err, compute.ErrJobNotFound) || !errors.Is(err, plugin.ErrUnavailable) || !errors.As(err, &ce) || ce.Job != id || ce.Op != "status" {
				t.Fatalf("Status of a job whose instance was stopped = %v, want ErrJobNotFound and ErrUnavailable for %s", err, id)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the spinning job's instance was not stopped")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ok, err := b.Submit(t.Context(), memcompute.SucceedingSpec())
	if err != nil {
		t.Fatal(err)
	}
	if st := waitFinal(t, b, ok); st.State != compute.StateSucceeded {
		t.Errorf("job after the timeout ended %s", st.State)
	}
	if st := h.Stats()[0]; st.Starts != 2 || st.Crashes != 1 || !st.Up {
		t.Errorf("stats = %+v, want 2 starts, 1 crash, up", st)
	}
}

func TestWASMComputeMemoryLimit(t *testing.T) {
	e := computeMisbehaveWASM(t)
	e.Limits.Memory = 64 << 20
	h := newWASMHost(t, e)
	b, _ := h.Compute(e.ID)
	_, err := b.Submit(t.Context(), compute.JobSpec{Name: "submit-hog", Algorithm: compute.Algorithm{Ref: "echo"}})
	if !errors.Is(err, plugin.ErrUnavailable) || !strings.Contains(err.Error(), "out of memory") || !strings.Contains(err.Error(), e.ID) {
		t.Fatalf("Submit exhausting the module's memory = %v, want ErrUnavailable saying out of memory", err)
	}
	// A job exhausting it in a step loses its instance, not the backend.
	id, err := b.Submit(t.Context(), compute.JobSpec{Name: "hog", Algorithm: compute.Algorithm{Ref: "hog"}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := b.Status(t.Context(), id); errors.Is(err, plugin.ErrUnavailable) {
			break
		} else if err != nil || time.Now().After(deadline) {
			t.Fatalf("Status of a job that exhausted the memory = %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ok, err := b.Submit(t.Context(), memcompute.SucceedingSpec())
	if err != nil {
		t.Fatal(err)
	}
	if st := waitFinal(t, b, ok); st.State != compute.StateSucceeded {
		t.Errorf("job after the failures ended %s", st.State)
	}
	if st := h.Stats()[0]; st.Starts != 3 || st.Crashes != 2 {
		t.Errorf("stats = %+v, want 3 starts, 2 crashes", st)
	}
}

// TestWASMComputeCallLimits: the call timeout and the caller's
// cancellation stop a guest stuck in a call; the next call works.
func TestWASMComputeCallLimits(t *testing.T) {
	e := computeMisbehaveWASM(t)
	e.Limits.CallTimeout = time.Second
	b, _ := newWASMHost(t, e).Compute(e.ID)
	loop := compute.JobSpec{Name: "submit-loop", Algorithm: compute.Algorithm{Ref: "echo"}}
	if _, err := b.Submit(t.Context(), loop); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), e.ID) {
		t.Fatalf("Submit of a looping module = %v, want DeadlineExceeded naming %s", err, e.ID)
	}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, err := b.Submit(ctx, loop); !errors.Is(err, context.Canceled) {
		t.Errorf("Submit of a looping module, cancelled = %v, want Canceled", err)
	}
	if _, err := b.Submit(t.Context(), compute.JobSpec{Name: "submit-panic", Algorithm: compute.Algorithm{Ref: "echo"}}); !errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("Submit of a panicking module = %v, want ErrUnavailable", err)
	}
	id, err := b.Submit(t.Context(), memcompute.SucceedingSpec())
	if err != nil {
		t.Fatal(err)
	}
	if st := waitFinal(t, b, id); st.State != compute.StateSucceeded {
		t.Errorf("job after the failures ended %s", st.State)
	}
}
