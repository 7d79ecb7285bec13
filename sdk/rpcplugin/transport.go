package rpcplugin

import (
	"google.golang.org/grpc"
)

// Transport tuning shared by both ends. gRPC's defaults suit many small
// messages over a network; a plugin is a local peer streaming objects as
// chunks (when descriptors cannot be passed), where the 64 KiB initial
// flow-control window and 32 KiB socket buffers split each chunk into many
// small writes and window updates. Measured on BenchmarkGetModes/chunks:
// about 10% less CPU per byte (a noisy shared machine; wall time within
// noise). Larger chunks (1 MiB) showed no gain and were not kept.
const (
	// windowSize is each stream's HTTP/2 flow-control window: several
	// chunks in flight, so the plugin keeps reading while the node
	// consumes.
	windowSize = 4 << 20
	// connWindowSize is the connection's window, shared by every stream.
	connWindowSize = 4 * windowSize
	// ioBufferSize is the size of gRPC's socket read and write buffers.
	ioBufferSize = 256 << 10
)

// dialOptions are the host's gRPC options for the plugin connection.
func dialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithInitialWindowSize(windowSize),
		grpc.WithInitialConnWindowSize(connWindowSize),
		grpc.WithReadBufferSize(ioBufferSize),
		grpc.WithWriteBufferSize(ioBufferSize),
	}
}

// newServer is the plugin's gRPC server factory for go-plugin.
func newServer(opts []grpc.ServerOption) *grpc.Server {
	return grpc.NewServer(append(opts,
		grpc.InitialWindowSize(windowSize),
		grpc.InitialConnWindowSize(connWindowSize),
		grpc.ReadBufferSize(ioBufferSize),
		grpc.WriteBufferSize(ioBufferSize),
	)...)
}
