package wasmguest

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"

	"github.com/nvm-node/nvm-node/sdk/compute"
	pb "github.com/nvm-node/nvm-node/sdk/internal/pluginpb"
	"github.com/nvm-node/nvm-node/sdk/internal/wasmabi"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// errPutEnded fails pushes into a Put whose backend has already returned,
// so the host stops sending and commits to learn the outcome.
var errPutEnded = errors.New("put already ended")

// errNoHandle answers an operation naming an unknown stream handle.
var errNoHandle = fmt.Errorf("unknown stream handle: %w", plugin.ErrInternal)

// put is a Put in progress: Backend.Put runs in its own goroutine, reading
// the pipe the host's chunks are written to.
type put struct {
	w      *io.PipeWriter
	cancel context.CancelFunc
	done   chan putResult
}

type putResult struct {
	info storage.ObjectInfo
	err  error
}

// server dispatches the host's calls to a backend. It needs no lock: the
// host never calls an instance concurrently.
type server struct {
	p       plugin.Plugin   // the backend served, of either kind; nil if none
	b       storage.Backend // set when serving storage
	c       compute.Backend // set when serving compute
	in, out []byte
	readers map[uint32]io.ReadCloser
	puts    map[uint32]*put
	pumps   map[uint32]*pump
	active  map[compute.JobID]bool // jobs not yet seen in a final state
	next    uint32
}

func newServer(b storage.Backend) *server {
	s := &server{readers: map[uint32]io.ReadCloser{}, puts: map[uint32]*put{}, pumps: map[uint32]*pump{}, active: map[compute.JobID]bool{}}
	if b != nil {
		s.p, s.b = b, b
	}
	return s
}

func newComputeServer(c compute.Backend) *server {
	s := newServer(nil)
	if c != nil {
		s.p, s.c = c, c
	}
	return s
}

// buffer returns the request buffer, grown to at least n bytes.
func (s *server) buffer(n int) []byte {
	if cap(s.in) < n {
		s.in = make([]byte, n)
	}
	return s.in[:cap(s.in)]
}

func (s *server) handle() uint32 {
	s.next++
	if s.next == 0 {
		s.next = 1
	}
	return s.next
}

// respond builds a response in the out buffer.
func (s *server) respond(st wasmabi.Status, payload ...[]byte) []byte {
	s.out = append(s.out[:0], byte(st))
	for _, p := range payload {
		s.out = append(s.out, p...)
	}
	return s.out
}

func (s *server) fail(err error) []byte {
	return s.respond(wasmabi.StatusError, wasmabi.EncodeError(err))
}

func (s *server) msg(m proto.Message) []byte {
	s.out = append(s.out[:0], byte(wasmabi.StatusOK))
	b, err := proto.MarshalOptions{}.MarshalAppend(s.out, m)
	if err != nil {
		return s.fail(fmt.Errorf("encoding the response: %w: %w", plugin.ErrInternal, err))
	}
	s.out = b
	return s.out
}

// errNotUTF8 refuses responses protobuf cannot carry.
var errNotUTF8 = fmt.Errorf("a response with strings that are not UTF-8: %w", plugin.ErrInternal)

// object responds with prefix and info, encoded by hand: protobuf-go's
// reflection costs tens of microseconds per message inside a module.
func (s *server) object(prefix []byte, info storage.ObjectInfo) []byte {
	if !wasmabi.ValidObject(info) {
		return s.fail(errNotUTF8)
	}
	s.out = append(append(s.out[:0], byte(wasmabi.StatusOK)), prefix...)
	s.out = wasmabi.AppendObjectInfo(s.out, info)
	return s.out
}

// call performs one operation. n is the request's length in the buffer,
// or for OpRead the most bytes wanted.
func (s *server) call(op wasmabi.Op, h uint32, n int) []byte {
	// For OpRead n is the most bytes wanted, for OpStep a time budget;
	// otherwise it is the request's length.
	noReq := op == wasmabi.OpRead || op == wasmabi.OpStep
	if n < 0 || (!noReq && n > len(s.in)) {
		return s.fail(fmt.Errorf("request length %d out of range: %w", n, plugin.ErrInternal))
	}
	req := s.in[:0]
	if !noReq {
		req = s.in[:n]
	}
	if s.p == nil {
		return s.fail(fmt.Errorf("the module serves no backend: call wasmguest.ServeStorage or ServeCompute from an init function: %w", plugin.ErrInternal))
	}
	ctx := context.Background()
	if op >= wasmabi.OpSubmit && op <= wasmabi.OpStep {
		return s.computeCall(ctx, op, h, n, req)
	}
	switch op {
	case wasmabi.OpInfo:
		i, err := s.p.Info(ctx)
		if err != nil {
			return s.fail(err)
		}
		return s.msg(wasmabi.InfoToPB(i))
	case wasmabi.OpConfigure:
		var r pb.ConfigureRequest
		if err := proto.Unmarshal(req, &r); err != nil {
			return s.fail(badRequest(err))
		}
		if err := s.p.Configure(ctx, plugin.Config(r.Config)); err != nil {
			return s.fail(err)
		}
		return s.respond(wasmabi.StatusOK)
	case wasmabi.OpClose:
		for id := range s.readers {
			s.closeReader(id)
		}
		for id := range s.puts {
			s.abortPut(id)
		}
		for id := range s.pumps {
			s.closePump(id)
		}
		clear(s.active)
		if err := s.p.Close(ctx); err != nil {
			return s.fail(err)
		}
		return s.respond(wasmabi.StatusOK)
	case wasmabi.OpRead:
		if p, ok := s.pumps[h]; ok {
			return s.pumpRead(p, n)
		}
		return s.read(h, n)
	case wasmabi.OpCloseHandle:
		s.closeReader(h)
		s.closePump(h)
		return s.respond(wasmabi.StatusOK)
	}
	if s.b == nil {
		return s.fail(fmt.Errorf("operation %d: the module serves a compute backend, not storage: %w", op, errors.ErrUnsupported))
	}
	switch op {
	case wasmabi.OpGet:
		return s.get(ctx, req)
	case wasmabi.OpPutOpen:
		return s.putOpen(ctx, req)
	case wasmabi.OpPutWrite:
		p, ok := s.puts[h]
		if !ok {
			return s.fail(errNoHandle)
		}
		// The pipe hands req to Backend.Put's reader, which copies it out
		// before Write returns, so the buffer can be reused.
		if _, err := p.w.Write(req); err != nil {
			return s.fail(err)
		}
		return s.respond(wasmabi.StatusOK)
	case wasmabi.OpPutCommit:
		p, ok := s.puts[h]
		if !ok {
			return s.fail(errNoHandle)
		}
		delete(s.puts, h)
		p.w.Close()
		res := <-p.done
		p.cancel()
		if res.err != nil {
			return s.fail(res.err)
		}
		if !wasmabi.ValidObject(res.info) {
			return s.fail(errNotUTF8)
		}
		s.out = wasmabi.AppendPutResponse(append(s.out[:0], byte(wasmabi.StatusOK)), res.info)
		return s.out
	case wasmabi.OpPutAbort:
		s.abortPut(h)
		return s.respond(wasmabi.StatusOK)
	case wasmabi.OpStat:
		key, err := wasmabi.DecodeKeyRequest(req)
		if err != nil {
			return s.fail(badRequest(err))
		}
		info, err := s.b.Stat(ctx, key)
		if err != nil {
			return s.fail(err)
		}
		return s.object(nil, info)
	case wasmabi.OpDelete:
		key, err := wasmabi.DecodeKeyRequest(req)
		if err != nil {
			return s.fail(badRequest(err))
		}
		if err := s.b.Delete(ctx, key); err != nil {
			return s.fail(err)
		}
		return s.respond(wasmabi.StatusOK)
	case wasmabi.OpList:
		opts, err := wasmabi.DecodeListRequest(req)
		if err != nil {
			return s.fail(badRequest(err))
		}
		page, err := s.b.List(ctx, opts)
		if err != nil {
			return s.fail(err)
		}
		for _, o := range page.Objects {
			if !wasmabi.ValidObject(o) {
				return s.fail(errNotUTF8)
			}
		}
		s.out = wasmabi.AppendListResponse(append(s.out[:0], byte(wasmabi.StatusOK)), page)
		return s.out
	}
	return s.fail(fmt.Errorf("operation %d: %w", op, errors.ErrUnsupported))
}

func badRequest(err error) error {
	return fmt.Errorf("undecodable request: %w: %w", plugin.ErrInternal, err)
}

func (s *server) get(ctx context.Context, req []byte) []byte {
	key, rng, err := wasmabi.DecodeGetRequest(req)
	if err != nil {
		return s.fail(badRequest(err))
	}
	rc, info, err := s.b.Get(ctx, key, storage.GetOptions{Range: rng})
	if err != nil {
		return s.fail(err)
	}
	if !wasmabi.ValidObject(info) {
		rc.Close()
		return s.fail(errNotUTF8)
	}
	h := s.handle()
	s.readers[h] = rc
	return s.object(wasmabi.AppendHandle(nil, h), info)
}

// read answers with up to n bytes of the stream, or StatusEOF.
func (s *server) read(h uint32, n int) []byte {
	rc, ok := s.readers[h]
	if !ok {
		return s.fail(errNoHandle)
	}
	n = min(n, wasmabi.ChunkSize)
	if cap(s.out) < 1+n {
		s.out = make([]byte, 1+n)
	}
	buf := s.out[1 : 1+n]
	for {
		m, err := rc.Read(buf)
		if m > 0 {
			// An error with the data comes back on the next Read.
			s.out = s.out[:1+m]
			s.out[0] = byte(wasmabi.StatusOK)
			return s.out
		}
		if err == io.EOF {
			return s.respond(wasmabi.StatusEOF)
		}
		if err != nil {
			return s.fail(err)
		}
		if n == 0 {
			return s.respond(wasmabi.StatusOK)
		}
	}
}

func (s *server) closeReader(h uint32) {
	if rc, ok := s.readers[h]; ok {
		rc.Close()
		delete(s.readers, h)
	}
}

func (s *server) putOpen(ctx context.Context, req []byte) []byte {
	key, opts, err := wasmabi.DecodePutHeader(req)
	if err != nil {
		return s.fail(badRequest(err))
	}
	pr, pw := io.Pipe()
	pctx, cancel := context.WithCancel(ctx)
	p := &put{w: pw, cancel: cancel, done: make(chan putResult, 1)}
	go func() {
		info, err := s.b.Put(pctx, key, pr, opts)
		// Later pushes fail at once instead of waiting for a reader.
		pr.CloseWithError(errPutEnded)
		p.done <- putResult{info, err}
	}()
	h := s.handle()
	s.puts[h] = p
	return s.respond(wasmabi.StatusOK, wasmabi.AppendHandle(nil, h))
}

// abortPut cancels a Put and waits for the backend to clean up.
func (s *server) abortPut(h uint32) {
	p, ok := s.puts[h]
	if !ok {
		return
	}
	delete(s.puts, h)
	p.cancel()
	p.w.CloseWithError(context.Canceled)
	<-p.done
}
