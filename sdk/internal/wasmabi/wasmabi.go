// Package wasmabi is the binary interface between the node and a WASM
// plugin built with sdk/wasmguest. Both sides import it, so the constants,
// the message encodings and the error mapping cannot drift apart.
//
// # Exports
//
// A guest module exports three functions (and its memory):
//
//	nvm_abi_version() i32              the ABI version, checked at load
//	nvm_buffer(size i32) i32           pointer to a guest buffer of at least size bytes
//	nvm_call(op, handle, n i32) i64    performs op; returns ptr<<32 | len of the response
//
// The host writes a request (a protobuf message of sdk/internal/pluginpb,
// the same messages the process runtime sends over gRPC) into the buffer
// nvm_buffer returned, then calls nvm_call with the operation, a stream
// handle when the operation has one, and the request's length (for Read,
// the most bytes wanted). The response, valid until the next call, is one
// status byte followed by the payload: the response message, the raw bytes
// of a Read, or an encoded error (see EncodeError). Calls on one instance
// are never concurrent. The guest encodes the messages of the frequent
// calls with the hand-written codecs of wire.go, byte for byte what
// protobuf-go writes, because protobuf-go's reflection is slow inside a
// module.
//
// # Streams
//
// Get returns a handle (4 bytes little-endian, then the ObjectInfo); the
// host reads it with OpRead until StatusEOF and releases it with
// OpCloseHandle. Put opens a handle with OpPutOpen (a PutHeader), pushes
// chunks with OpPutWrite and ends with OpPutCommit, which returns the
// PutResponse, or OpPutAbort, after which nothing is stored.
//
// Compute streams (Logs, OpenResult) are read the same way; the comment on
// OpSubmit says how jobs run in a module that cannot run between calls.
//
// # Outbound HTTP
//
// A guest reaches the hosts granted in plugins.yaml through the host
// module HTTPModule, whose functions the guest imports:
//
//	request(req, reqLen, out, outCap i32) i64     starts a request (an encoded HTTPRequest); OK: the handle
//	write(h, p, n, out, outCap i32) i64           pushes n bytes of the request body (when HasBody)
//	response(h, out, outCap i32) i64              ends the body, waits for the head; OK: n bytes of HTTPHead in out
//	read(h, p, n, out, outCap i32) i64            reads at most n body bytes into p; OK: the count, or EOF
//	close(h i32)                                  aborts or ends the exchange and frees the handle
//
// Every result is HTTPResult: a status in the high 32 bits and a value in
// the low ones. On HTTPError the value is the length of an EncodeError
// payload written to out (the host shortens the message to fit); on
// HTTPShort the value is the size out needs, and the call may be repeated
// with a larger buffer. The host writes into guest memory only the bytes
// a call asks for.
//
// # Errors
//
// An error travels as the google.rpc.Status that sdk/internal/wireerr
// builds for gRPC, so one table maps sentinels on every transport and
// errors.Is holds on the host.
package wasmabi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/nvm-node/nvm-node/sdk/internal/pluginpb"
	"github.com/nvm-node/nvm-node/sdk/internal/wireerr"
	"github.com/nvm-node/nvm-node/sdk/plugin"
	"github.com/nvm-node/nvm-node/sdk/storage"
)

// Version is the ABI version. The host refuses a module exporting another
// one, naming both.
const Version = 1

// Names of the guest's exports.
const (
	ExportVersion = "nvm_abi_version"
	ExportBuffer  = "nvm_buffer"
	ExportCall    = "nvm_call"
)

// Op selects what nvm_call does. The numbers are part of the ABI: never
// reuse one, only add.
type Op int32

// The lifecycle and storage operations; the compute ones are in
// compute.go.
const (
	OpInfo        Op = 1  // InfoRequest -> InfoResponse
	OpConfigure   Op = 2  // ConfigureRequest -> ConfigureResponse
	OpClose       Op = 3  // CloseRequest -> CloseResponse
	OpGet         Op = 10 // GetRequest -> handle + ObjectInfo
	OpRead        Op = 11 // handle, n = max bytes -> bytes or StatusEOF
	OpCloseHandle Op = 12 // handle -> nothing
	OpPutOpen     Op = 13 // PutHeader -> handle
	OpPutWrite    Op = 14 // handle, n bytes in the buffer -> nothing
	OpPutCommit   Op = 15 // handle -> PutResponse
	OpPutAbort    Op = 16 // handle -> nothing
	OpStat        Op = 17 // StatRequest -> ObjectInfo
	OpDelete      Op = 18 // DeleteRequest -> DeleteResponse
	OpList        Op = 19 // ListRequest -> ListResponse
)

// Status is the first byte of every response.
type Status byte

// The statuses.
const (
	StatusOK    Status = 0
	StatusError Status = 1
	StatusEOF   Status = 2
)

// ChunkSize is the largest stream chunk the host asks for or pushes.
const ChunkSize = 256 << 10

// Pack packs a response's pointer and length into nvm_call's result.
func Pack(ptr, n uint32) uint64 { return uint64(ptr)<<32 | uint64(n) }

// Unpack undoes Pack.
func Unpack(v uint64) (ptr, n uint32) { return uint32(v >> 32), uint32(v) }

// AppendHandle appends a handle to a response payload.
func AppendHandle(b []byte, h uint32) []byte { return binary.LittleEndian.AppendUint32(b, h) }

// SplitHandle reads the handle at the start of a payload.
func SplitHandle(b []byte) (uint32, []byte, error) {
	if len(b) < 4 {
		return 0, nil, errors.New("response too short for a stream handle")
	}
	return binary.LittleEndian.Uint32(b), b[4:], nil
}

// EncodeError encodes err as the payload of a StatusError response.
func EncodeError(err error) []byte {
	st, _ := status.FromError(wireerr.ToStatus(err))
	b, merr := proto.Marshal(st.Proto())
	if merr != nil {
		// Only a message that is not UTF-8 fails to marshal; keep the
		// sentinel and lose the text.
		b, _ = proto.Marshal(&spb.Status{Code: st.Proto().Code, Message: "error text not valid UTF-8", Details: st.Proto().Details})
	}
	return b
}

// DecodeError decodes a StatusError payload into an error for which
// errors.Is matches the sentinel the guest wrapped. who names the plugin.
func DecodeError(who string, b []byte) error {
	var sp spb.Status
	if err := proto.Unmarshal(b, &sp); err != nil {
		return fmt.Errorf("plugin %s: undecodable error from the module: %w", who, plugin.ErrInternal)
	}
	return wireerr.FromStatus(who, status.FromProto(&sp).Err())
}

// The conversions below mirror sdk/rpcplugin's: a zero time travels as an
// absent timestamp so it comes back zero.

// InfoToPB converts a plugin.Info.
func InfoToPB(i plugin.Info) *pb.InfoResponse {
	caps := make([]string, len(i.Capabilities))
	for n, c := range i.Capabilities {
		caps[n] = string(c)
	}
	return &pb.InfoResponse{Kind: string(i.Kind), Name: i.Name, Version: i.Version, ApiVersion: int32(i.APIVersion), Capabilities: caps}
}

// InfoFromPB converts back.
func InfoFromPB(r *pb.InfoResponse) plugin.Info {
	i := plugin.Info{Kind: plugin.Kind(r.Kind), Name: r.Name, Version: r.Version, APIVersion: int(r.ApiVersion)}
	for _, c := range r.Capabilities {
		i.Capabilities = append(i.Capabilities, plugin.Capability(c))
	}
	return i
}

// ObjectToPB converts a storage.ObjectInfo.
func ObjectToPB(o storage.ObjectInfo) *pb.ObjectInfo {
	var ts *timestamppb.Timestamp
	if !o.ModTime.IsZero() {
		ts = timestamppb.New(o.ModTime)
	}
	return &pb.ObjectInfo{Key: o.Key, Size: o.Size, ContentType: o.ContentType, Etag: o.ETag, ModTime: ts}
}

// ObjectFromPB converts back.
func ObjectFromPB(o *pb.ObjectInfo) storage.ObjectInfo {
	if o == nil {
		return storage.ObjectInfo{}
	}
	var t time.Time
	if o.ModTime != nil {
		t = o.ModTime.AsTime()
	}
	return storage.ObjectInfo{Key: o.Key, Size: o.Size, ContentType: o.ContentType, ETag: o.Etag, ModTime: t}
}
