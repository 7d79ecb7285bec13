package wasmguest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/nvm-node/nvm-node/sdk/internal/pluginpb"
	"github.com/nvm-node/nvm-node/sdk/internal/wasmabi"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
	"github.com/nvm-node/nvm-node/sdk/storage/memstorage"
)

// hostSim drives a server the way the node drives a module's exports,
// without WebAssembly, so the dispatch logic is tested natively.
type hostSim struct {
	t *testing.T
	s *server
}

func (h hostSim) call(op wasmabi.Op, handle uint32, req []byte) (wasmabi.Status, []byte) {
	h.t.Helper()
	copy(h.s.buffer(len(req)), req)
	out := h.s.call(op, handle, len(req))
	if len(out) == 0 {
		h.t.Fatalf("op %d: empty response", op)
	}
	return wasmabi.Status(out[0]), bytes.Clone(out[1:])
}

func (h hostSim) msg(op wasmabi.Op, handle uint32, req proto.Message) (wasmabi.Status, []byte) {
	h.t.Helper()
	b, err := proto.Marshal(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.call(op, handle, b)
}

func (h hostSim) ok(st wasmabi.Status, payload []byte) []byte {
	h.t.Helper()
	if st != wasmabi.StatusOK {
		h.t.Fatalf("status %d: %v", st, wasmabi.DecodeError("test", payload))
	}
	return payload
}

func newSim(t *testing.T) hostSim {
	h := hostSim{t: t, s: newServer(memstorage.New())}
	h.ok(h.msg(wasmabi.OpConfigure, 0, &pb.ConfigureRequest{}))
	return h
}

func (h hostSim) put(key string, chunks ...string) (wasmabi.Status, []byte) {
	handle, _, err := wasmabi.SplitHandle(h.ok(h.msg(wasmabi.OpPutOpen, 0, &pb.PutHeader{Key: key})))
	if err != nil {
		h.t.Fatal(err)
	}
	for _, c := range chunks {
		h.ok(h.call(wasmabi.OpPutWrite, handle, []byte(c)))
	}
	return h.call(wasmabi.OpPutCommit, handle, nil)
}

func TestServerRoundTrip(t *testing.T) {
	h := newSim(t)
	var info pb.InfoResponse
	if err := proto.Unmarshal(h.ok(h.msg(wasmabi.OpInfo, 0, &pb.InfoRequest{})), &info); err != nil || info.Kind != "storage" {
		t.Fatalf("info = %v, %v", &info, err)
	}
	var pr pb.PutResponse
	if err := proto.Unmarshal(h.ok(h.put("a/b", "hello ", "", "world")), &pr); err != nil || pr.Info.Size != 11 {
		t.Fatalf("put = %v, %v", &pr, err)
	}
	handle, rest, err := wasmabi.SplitHandle(h.ok(h.msg(wasmabi.OpGet, 0, &pb.GetRequest{Key: "a/b", Range: &pb.Range{Offset: 6, Length: -1}})))
	if err != nil {
		t.Fatal(err)
	}
	var oi pb.ObjectInfo
	if err := proto.Unmarshal(rest, &oi); err != nil || oi.Size != 11 {
		t.Fatalf("get info = %v, %v", &oi, err)
	}
	var got []byte
	for {
		// Reads of 2 bytes at a time exercise the chunking.
		out := h.s.call(wasmabi.OpRead, handle, 2)
		if wasmabi.Status(out[0]) == wasmabi.StatusEOF {
			break
		}
		got = append(got, h.ok(wasmabi.Status(out[0]), out[1:])...)
	}
	if string(got) != "world" {
		t.Errorf("read %q, want %q", got, "world")
	}
	h.ok(h.call(wasmabi.OpCloseHandle, handle, nil))
	if out := h.s.call(wasmabi.OpRead, handle, 10); wasmabi.Status(out[0]) != wasmabi.StatusError || !errors.Is(wasmabi.DecodeError("test", out[1:]), plugin.ErrInternal) {
		t.Errorf("read of a closed handle: status %d", out[0])
	}
}

func TestServerErrors(t *testing.T) {
	h := newSim(t)
	st, payload := h.msg(wasmabi.OpStat, 0, &pb.StatRequest{Key: "missing"})
	err := wasmabi.DecodeError("storage.test", payload)
	var se *storage.Error
	if st != wasmabi.StatusError || !errors.Is(err, storage.ErrNotFound) || !errors.As(err, &se) || se.Key != "missing" {
		t.Errorf("stat of a missing key: status %d, %v", st, err)
	}
	h.ok(h.put("k", "v"))
	handle, _, _ := wasmabi.SplitHandle(h.ok(h.msg(wasmabi.OpPutOpen, 0, &pb.PutHeader{Key: "k", IfAbsent: true})))
	// The backend may refuse before or after reading; either way the
	// commit reports ErrExist.
	h.call(wasmabi.OpPutWrite, handle, []byte("x"))
	if st, payload := h.call(wasmabi.OpPutCommit, handle, nil); st != wasmabi.StatusError || !errors.Is(wasmabi.DecodeError("t", payload), storage.ErrExist) {
		t.Errorf("put if-absent over an object: status %d, %v", st, wasmabi.DecodeError("t", payload))
	}
	if st, _ := h.call(wasmabi.Op(999), 0, nil); st != wasmabi.StatusError {
		t.Errorf("unknown op: status %d", st)
	}
	if st, payload := h.call(wasmabi.OpStat, 0, []byte{0xff, 0xff}); st != wasmabi.StatusError || !errors.Is(wasmabi.DecodeError("t", payload), plugin.ErrInternal) {
		t.Errorf("undecodable request: status %d", st)
	}
	if out := h.s.call(wasmabi.OpStat, 0, 1<<30); wasmabi.Status(out[0]) != wasmabi.StatusError {
		t.Error("a request longer than the buffer was accepted")
	}
}

func TestServerAbortStoresNothing(t *testing.T) {
	h := newSim(t)
	handle, _, _ := wasmabi.SplitHandle(h.ok(h.msg(wasmabi.OpPutOpen, 0, &pb.PutHeader{Key: "gone"})))
	h.ok(h.call(wasmabi.OpPutWrite, handle, []byte("partial")))
	h.ok(h.call(wasmabi.OpPutAbort, handle, nil))
	if st, payload := h.msg(wasmabi.OpStat, 0, &pb.StatRequest{Key: "gone"}); st != wasmabi.StatusError || !errors.Is(wasmabi.DecodeError("t", payload), storage.ErrNotFound) {
		t.Errorf("stat after an aborted put: status %d", st)
	}
	// Close aborts Puts and closes readers still open.
	h.ok(h.put("kept", "x"))
	h.ok(h.msg(wasmabi.OpGet, 0, &pb.GetRequest{Key: "kept"}))
	h.ok(h.msg(wasmabi.OpPutOpen, 0, &pb.PutHeader{Key: "open"}))
	h.ok(h.msg(wasmabi.OpClose, 0, &pb.CloseRequest{}))
	if len(h.s.puts) != 0 || len(h.s.readers) != 0 {
		t.Errorf("after Close: %d puts and %d readers left", len(h.s.puts), len(h.s.readers))
	}
}

func TestServerWithoutBackend(t *testing.T) {
	s := newServer(nil)
	out := s.call(wasmabi.OpInfo, 0, 0)
	if wasmabi.Status(out[0]) != wasmabi.StatusError || !strings.Contains(wasmabi.DecodeError("t", out[1:]).Error(), "ServeStorage") {
		t.Errorf("a module without a backend: %v", wasmabi.DecodeError("t", out[1:]))
	}
}

// FuzzServerCall feeds arbitrary requests to every operation: the server
// must answer each with a well-formed response and never panic.
func FuzzServerCall(f *testing.F) {
	for _, op := range []wasmabi.Op{wasmabi.OpGet, wasmabi.OpPutOpen, wasmabi.OpStat, wasmabi.OpList, wasmabi.OpConfigure} {
		f.Add(int32(op), uint32(1), []byte{0x0a, 0x01, 'k'})
	}
	f.Fuzz(func(t *testing.T, op int32, handle uint32, req []byte) {
		s := newServer(memstorage.New())
		s.b.Configure(context.Background(), nil)
		copy(s.buffer(len(req)), req)
		out := s.call(wasmabi.Op(op), handle, len(req))
		if len(out) == 0 || wasmabi.Status(out[0]) > wasmabi.StatusEOF {
			t.Fatalf("malformed response %v", out)
		}
		s.call(wasmabi.OpClose, 0, 0)
	})
}
