package rpcplugin

import (
	"google.golang.org/grpc"
)

// Transport tuning shared by both ends. The defaults of gRPC suit many
// small messages over a network; a plugin is a local peer streaming large
// objects, where a 64 KiB initial flow-control window and 32 KiB socket
// buffers make each chunk cross in many small writes and window updates.
const (
	// windowSize is each stream's HTTP/2 flow-control window: a few chunks
	// in flight, so the plugin keeps reading while the node consumes.
	windowSize = 4 * ChunkSize
	// connWindowSize is the connection's window, shared by every stream.
	connWindowSize = 4 * windowSize
	// ioBufferSize is the size of gRPC's socket read and write buffers.
	ioBufferSize = 256 << 10
	// maxMessageSize accepts a chunk plus its framing, with room for a
	// peer that uses a larger ChunkSize.
	maxMessageSize = 4*ChunkSize + 64<<10
)

// dialOptions are the host's gRPC options for the plugin connection.
func dialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithInitialWindowSize(windowSize),
		grpc.WithInitialConnWindowSize(connWindowSize),
		grpc.WithReadBufferSize(ioBufferSize),
		grpc.WithWriteBufferSize(ioBufferSize),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageSize), grpc.MaxCallSendMsgSize(maxMessageSize)),
	}
}

// newServer is the plugin's gRPC server factory for go-plugin.
func newServer(opts []grpc.ServerOption) *grpc.Server {
	return grpc.NewServer(append(opts,
		grpc.InitialWindowSize(windowSize),
		grpc.InitialConnWindowSize(connWindowSize),
		grpc.ReadBufferSize(ioBufferSize),
		grpc.WriteBufferSize(ioBufferSize),
		grpc.MaxRecvMsgSize(maxMessageSize),
		grpc.MaxSendMsgSize(maxMessageSize),
	)...)
}
