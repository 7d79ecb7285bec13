package wasmguest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/nvm-node/nvm-node/sdk/compute"
	"github.com/nvm-node/nvm-node/sdk/compute/memcompute"
	"github.com/nvm-node/nvm-node/sdk/internal/pbconv"
	pb "github.com/nvm-node/nvm-node/sdk/internal/pluginpb"
	"github.com/nvm-node/nvm-node/sdk/internal/wasmabi"
	"github.com/nvm-node/nvm-node/sdk/plugin"
)

func newComputeSim(t *testing.T) hostSim {
	h := hostSim{t: t, s: newComputeServer(memcompute.New())}
	h.ok(h.msg(wasmabi.OpConfigure, 0, &pb.ConfigureRequest{}))
	t.Cleanup(func() { h.s.call(wasmabi.OpClose, 0, 0) })
	return h
}

func (h hostSim) step() uint32 {
	h.t.Helper()
	out := h.s.call(wasmabi.OpStep, 0, 1000)
	n, err := wasmabi.ParseCount(h.ok(wasmabi.Status(out[0]), out[1:]))
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h hostSim) status(id string) *pb.JobStatus {
	h.t.Helper()
	var st pb.JobStatus
	if err := proto.Unmarshal(h.ok(h.msg(wasmabi.OpStatus, 0, &pb.JobRequest{Id: id})), &st); err != nil {
		h.t.Fatal(err)
	}
	return &st
}

// readAll reads a compute stream to its end, counting the "nothing yet"
// answers; it gives up after limit of them. Natively (unlike in a module)
// the pump is a real goroutine that may not have run yet, so each empty
// answer waits a millisecond, as the host waits between polls.
func (h hostSim) readAll(handle uint32, limit int) (string, int) {
	h.t.Helper()
	var got []byte
	empty := 0
	for empty < limit {
		if empty > 0 {
			time.Sleep(time.Millisecond)
		}
		out := h.s.call(wasmabi.OpRead, handle, 3)
		st := wasmabi.Status(out[0])
		if st == wasmabi.StatusEOF {
			return string(got), empty
		}
		data := h.ok(st, out[1:])
		if len(data) == 0 {
			empty++
		}
		got = append(got, data...)
	}
	return string(got), empty
}

func (h hostSim) submit(spec compute.JobSpec) string {
	h.t.Helper()
	var r pb.SubmitResponse
	if err := proto.Unmarshal(h.ok(h.msg(wasmabi.OpSubmit, 0, &pb.SubmitRequest{Spec: pbconv.SpecToPB(spec)})), &r); err != nil {
		h.t.Fatal(err)
	}
	return r.Id
}

func TestComputeServerJob(t *testing.T) {
	h := newComputeSim(t)
	id := h.submit(memcompute.SucceedingSpec())
	for i := 0; h.step() > 0; i++ {
		if i > 1000 {
			t.Fatal("the job never finished")
		}
	}
	if st := h.status(id); st.State != string(compute.StateSucceeded) || st.Labels["did"] != "did:nv:123" {
		t.Fatalf("status %v", st)
	}
	handle, _, err := wasmabi.SplitHandle(h.ok(h.msg(wasmabi.OpLogs, 0, &pb.LogsRequest{Id: id})))
	if err != nil {
		t.Fatal(err)
	}
	if logs, _ := h.readAll(handle, 5000); logs != "hello\nworld\n" {
		t.Errorf("logs %q", logs)
	}
	h.ok(h.call(wasmabi.OpCloseHandle, handle, nil))
	var rs pb.ResultsResponse
	if err := proto.Unmarshal(h.ok(h.msg(wasmabi.OpResults, 0, &pb.JobRequest{Id: id})), &rs); err != nil || len(rs.Results) != 2 {
		t.Fatalf("results %v, %v", &rs, err)
	}
	handle, rest, err := wasmabi.SplitHandle(h.ok(h.msg(wasmabi.OpOpenResult, 0, &pb.OpenResultRequest{Id: id, Name: "greeting"})))
	if err != nil {
		t.Fatal(err)
	}
	var res pb.Result
	if err := proto.Unmarshal(rest, &res); err != nil || res.Name != "greeting" {
		t.Fatalf("result info %v, %v", &res, err)
	}
	if data, _ := h.readAll(handle, 5000); data != "greeting: hello world" {
		t.Errorf("result %q", data)
	}
	var page pb.JobListResponse
	if err := proto.Unmarshal(h.ok(h.msg(wasmabi.OpJobList, 0, &pb.JobListRequest{})), &page); err != nil || len(page.Jobs) != 1 || page.Jobs[0].Id != id {
		t.Errorf("list %v, %v", &page, err)
	}
}

// TestComputeServerFollow: a followed log of a running job answers
// "nothing yet" instead of blocking, and ends once the job is stopped.
func TestComputeServerFollow(t *testing.T) {
	h := newComputeSim(t)
	id := h.submit(memcompute.RunningSpec())
	if h.step() != 1 {
		t.Fatal("the running job is not active after a step")
	}
	handle, _, _ := wasmabi.SplitHandle(h.ok(h.msg(wasmabi.OpLogs, 0, &pb.LogsRequest{Id: id, Follow: true})))
	// Its log so far arrives (the pump may need a moment), then only
	// "nothing yet" answers while it runs.
	var got string
	for deadline := time.Now().Add(5 * time.Second); got != "sleeping\n" && time.Now().Before(deadline); {
		more, _ := h.readAll(handle, 1)
		got += more
	}
	more, empty := h.readAll(handle, 3)
	if got != "sleeping\n" || more != "" || empty != 3 {
		t.Errorf("following a running job: %q, then %q with %d empty answers; want its log so far and then empty answers", got, more, empty)
	}
	h.ok(h.msg(wasmabi.OpStop, 0, &pb.JobRequest{Id: id}))
	if rest, _ := h.readAll(handle, 5000); rest != "" {
		t.Errorf("after Stop the followed log gave %q more", rest)
	}
	if h.step() != 0 {
		t.Error("a stopped job is still active")
	}
	h.ok(h.call(wasmabi.OpCloseHandle, handle, nil))
	// A pump blocked in a followed read is released by closing its handle.
	id = h.submit(memcompute.RunningSpec())
	handle, _, _ = wasmabi.SplitHandle(h.ok(h.msg(wasmabi.OpLogs, 0, &pb.LogsRequest{Id: id, Follow: true})))
	h.readAll(handle, 2)
	h.ok(h.call(wasmabi.OpCloseHandle, handle, nil))
	if len(h.s.pumps) != 0 {
		t.Errorf("%d pumps left", len(h.s.pumps))
	}
}

func TestComputeServerErrors(t *testing.T) {
	h := newComputeSim(t)
	st, payload := h.msg(wasmabi.OpStatus, 0, &pb.JobRequest{Id: "nope"})
	err := wasmabi.DecodeError("compute.test", payload)
	var ce *compute.Error
	if st != wasmabi.StatusError || !errors.Is(err, compute.ErrJobNotFound) || !errors.As(err, &ce) || ce.Op != "status" {
		t.Errorf("status of an unknown job: %d, %v", st, err)
	}
	if st, payload := h.msg(wasmabi.OpSubmit, 0, &pb.SubmitRequest{}); st != wasmabi.StatusError || !errors.Is(wasmabi.DecodeError("t", payload), compute.ErrInvalidSpec) {
		t.Errorf("submit of an empty spec: %d", st)
	}
	if st, payload := h.msg(wasmabi.OpStat, 0, &pb.StatRequest{Key: "k"}); st != wasmabi.StatusError || !errors.Is(wasmabi.DecodeError("t", payload), errors.ErrUnsupported) {
		t.Errorf("a storage call on a compute module: %d", st)
	}
	s := newServer(nil)
	out := s.call(wasmabi.OpSubmit, 0, 0)
	if err := wasmabi.DecodeError("t", out[1:]); !strings.Contains(err.Error(), "ServeCompute") || !errors.Is(err, plugin.ErrInternal) {
		t.Errorf("a module without a backend: %v", err)
	}
	st2 := newSim(t)
	if st, payload := st2.msg(wasmabi.OpSubmit, 0, &pb.SubmitRequest{}); st != wasmabi.StatusError || !errors.Is(wasmabi.DecodeError("t", payload), errors.ErrUnsupported) {
		t.Errorf("a compute call on a storage module: %d", st)
	}
}

// FuzzComputeServerCall feeds arbitrary requests to the compute
// operations: every answer is well-formed, nothing panics.
func FuzzComputeServerCall(f *testing.F) {
	for op := wasmabi.OpSubmit; op <= wasmabi.OpStep; op++ {
		f.Add(int32(op), uint32(1), []byte{0x0a, 0x01, 'k'})
	}
	spec, _ := proto.Marshal(&pb.SubmitRequest{Spec: pbconv.SpecToPB(memcompute.SucceedingSpec())})
	f.Add(int32(wasmabi.OpSubmit), uint32(0), spec)
	f.Fuzz(func(t *testing.T, op int32, handle uint32, req []byte) {
		s := newComputeServer(memcompute.New())
		s.c.Configure(t.Context(), nil)
		copy(s.buffer(len(req)), req)
		out := s.call(wasmabi.Op(op), handle, len(req))
		if len(out) == 0 || wasmabi.Status(out[0]) > wasmabi.StatusEOF {
			t.Fatalf("malformed response %v", out)
		}
		s.call(wasmabi.OpClose, 0, 0)
	})
}
