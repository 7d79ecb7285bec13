package wasmguest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/nvm-node/nvm-node/sdk/compute"
	"github.com/nvm-node/nvm-node/sdk/internal/pbconv"
	pb "github.com/nvm-node/nvm-node/sdk/internal/pluginpb"
	"github.com/nvm-node/nvm-node/sdk/internal/wasmabi"
)

// A module runs its goroutines only while the host is inside one of its
// exports and the export yields (see wasmabi.OpStep). The server yields in
// two places: OpStep, where the backend's jobs advance, and the read of a
// compute stream, which waits briefly for its pump.

// idleRound is how short a round of runtime.Gosched must be to show that
// no other goroutine had anything to do.
const idleRound = 10 * time.Microsecond

// pumpWait bounds how long a read of a compute stream lets goroutines run
// before answering "nothing yet".
const pumpWait = time.Millisecond

// yield lets the module's other goroutines run until they are all blocked
// or budget has passed, or until done (when not nil) reports true. After a
// round in which nothing else ran, nothing can change, so it returns
// rather than spin out the budget.
func yield(budget time.Duration, done func() bool) {
	start := time.Now()
	idle := false
	for {
		if done != nil && done() {
			return
		}
		if idle || time.Since(start) >= budget {
			return
		}
		t := time.Now()
		runtime.Gosched()
		idle = time.Since(t) < idleRound
	}
}

// pump reads a backend stream in its own goroutine, so that a Read the
// backend blocks (a followed log) blocks that goroutine and never the
// export: a blocked export with nothing else to run would be a deadlock
// that kills the module.
type pump struct {
	rc      io.ReadCloser
	want    chan int       // a read of up to n bytes is wanted
	got     chan pumpChunk // its outcome
	buf     []byte         // written by the pump goroutine between want and got
	waiting bool           // a want has no got yet
	err     error          // sticky end of the stream
}

type pumpChunk struct {
	n   int
	err error
}

func newPump(rc io.ReadCloser) *pump {
	p := &pump{rc: rc, want: make(chan int, 1), got: make(chan pumpChunk, 1)}
	go p.run()
	return p
}

func (p *pump) run() {
	for n := range p.want {
		if cap(p.buf) < n {
			p.buf = make([]byte, n)
		}
		m, err := p.rc.Read(p.buf[:n])
		p.got <- pumpChunk{m, err}
		if err != nil {
			return
		}
	}
}

// pumpRead answers OpRead on a compute stream: up to n bytes, StatusEOF,
// an error, or StatusOK with no bytes when the stream has nothing yet.
func (s *server) pumpRead(p *pump, n int) []byte {
	n = min(n, wasmabi.ChunkSize)
	if n <= 0 {
		return s.respond(wasmabi.StatusOK)
	}
	if p.err == io.EOF {
		return s.respond(wasmabi.StatusEOF)
	} else if p.err != nil {
		return s.fail(p.err)
	}
	var c pumpChunk
	received := false
	for range 2 { // a Read of 0 bytes without error asks once more
		if !p.waiting {
			p.want <- n
			p.waiting = true
		}
		yield(pumpWait, func() bool {
			select {
			case c = <-p.got:
				received = true
				return true
			default:
				return false
			}
		})
		if !received {
			return s.respond(wasmabi.StatusOK)
		}
		p.waiting = false
		if c.n > 0 || c.err != nil {
			break
		}
		received = false
	}
	if c.err != nil {
		p.err = c.err // after the data, if any
	}
	if c.n > 0 {
		s.out = append(append(s.out[:0], byte(wasmabi.StatusOK)), p.buf[:c.n]...)
		return s.out
	}
	if c.err == io.EOF {
		return s.respond(wasmabi.StatusEOF)
	}
	if c.err != nil {
		return s.fail(c.err)
	}
	return s.respond(wasmabi.StatusOK)
}

func (s *server) closePump(h uint32) {
	p, ok := s.pumps[h]
	if !ok {
		return
	}
	delete(s.pumps, h)
	// Close releases a Read the pump may be blocked in; closing want ends
	// a pump waiting for the next request. got has room for the last
	// outcome, so the goroutine never blocks on it.
	p.rc.Close()
	close(p.want)
}

func (s *server) openPump(rc io.ReadCloser) uint32 {
	h := s.handle()
	s.pumps[h] = newPump(rc)
	return h
}

// computeCall performs a compute operation.
func (s *server) computeCall(ctx context.Context, op wasmabi.Op, h uint32, n int, req []byte) []byte {
	if s.c == nil {
		return s.fail(fmt.Errorf("operation %d: the module serves a storage backend, not compute: %w", op, errors.ErrUnsupported))
	}
	switch op {
	case wasmabi.OpStep:
		return s.step(ctx, n)
	case wasmabi.OpSubmit:
		var r pb.SubmitRequest
		if err := proto.Unmarshal(req, &r); err != nil {
			return s.fail(badRequest(err))
		}
		id, err := s.c.Submit(ctx, pbconv.SpecFromPB(r.Spec))
		if err != nil {
			return s.fail(err)
		}
		s.active[id] = true
		return s.msg(&pb.SubmitResponse{Id: string(id)})
	case wasmabi.OpStatus, wasmabi.OpStop, wasmabi.OpResults:
		// The frequent calls use the hand-written codecs (see wasmabi).
		rid, err := wasmabi.DecodeJobRequest(req)
		if err != nil {
			return s.fail(badRequest(err))
		}
		id := compute.JobID(rid)
		switch op {
		case wasmabi.OpStatus:
			st, err := s.c.Status(ctx, id)
			if err != nil {
				return s.fail(err)
			}
			if !wasmabi.ValidStatus(st) {
				return s.fail(errNotUTF8)
			}
			s.out = wasmabi.AppendJobStatus(append(s.out[:0], byte(wasmabi.StatusOK)), st)
			return s.out
		case wasmabi.OpStop:
			if err := s.c.Stop(ctx, id); err != nil {
				return s.fail(err)
			}
			return s.respond(wasmabi.StatusOK)
		default:
			rs, err := s.c.Results(ctx, id)
			if err != nil {
				return s.fail(err)
			}
			resp := &pb.ResultsResponse{}
			for _, r := range rs {
				resp.Results = append(resp.Results, pbconv.ResultToPB(r))
			}
			return s.msg(resp)
		}
	case wasmabi.OpLogs:
		var r pb.LogsRequest
		if err := proto.Unmarshal(req, &r); err != nil {
			return s.fail(badRequest(err))
		}
		rc, err := s.c.Logs(ctx, compute.JobID(r.Id), compute.LogOptions{Follow: r.Follow})
		if err != nil {
			return s.fail(err)
		}
		return s.respond(wasmabi.StatusOK, wasmabi.AppendHandle(nil, s.openPump(rc)))
	case wasmabi.OpJobList:
		var r pb.JobListRequest
		if err := proto.Unmarshal(req, &r); err != nil {
			return s.fail(badRequest(err))
		}
		opts := compute.ListOptions{After: compute.JobID(r.After), Limit: int(r.Limit)}
		for _, st := range r.States {
			opts.States = append(opts.States, compute.State(st))
		}
		page, err := s.c.List(ctx, opts)
		if err != nil {
			return s.fail(err)
		}
		resp := &pb.JobListResponse{Next: string(page.Next)}
		for _, j := range page.Jobs {
			resp.Jobs = append(resp.Jobs, pbconv.StatusToPB(j))
		}
		return s.msg(resp)
	case wasmabi.OpOpenResult:
		var r pb.OpenResultRequest
		if err := proto.Unmarshal(req, &r); err != nil {
			return s.fail(badRequest(err))
		}
		rc, res, err := s.c.OpenResult(ctx, compute.JobID(r.Id), r.Name)
		if err != nil {
			return s.fail(err)
		}
		info, err := proto.Marshal(pbconv.ResultToPB(res))
		if err != nil {
			rc.Close()
			return s.fail(fmt.Errorf("encoding the result: %w", errNotUTF8))
		}
		return s.respond(wasmabi.StatusOK, wasmabi.AppendHandle(nil, s.openPump(rc)), info)
	}
	return s.fail(fmt.Errorf("operation %d: %w", op, errors.ErrUnsupported))
}

// step lets the backend's goroutines run for up to budget microseconds,
// then answers how many submitted jobs are not yet final, so the host
// knows whether to keep stepping.
func (s *server) step(ctx context.Context, budget int) []byte {
	yield(time.Duration(budget)*time.Microsecond, nil)
	for id := range s.active {
		st, err := s.c.Status(ctx, id)
		if err != nil || st.State.Final() {
			delete(s.active, id)
		}
	}
	return s.respond(wasmabi.StatusOK, wasmabi.AppendCount(nil, uint32(len(s.active))))
}
