// Package rpcplugin runs a storage or compute backend as a separate process
// and gives the node a client that implements the same interface.
//
// # For plugin authors
//
// A process plugin is a main package that builds its backend and calls
// Serve:
//
//	func main() { rpcplugin.Serve(mybackend.New()) }
//
// The binary then speaks the node's protocol (hashicorp/go-plugin over gRPC
// with mutual TLS set up automatically) when the node starts it, and prints
// its Info as JSON when run as `plugin describe`. Anything it logs to
// stderr reaches the node's log, tagged with the plugin id; JSON lines (as
// written by slog.NewJSONHandler or hclog) keep their level and fields.
// The plugin does not inherit the node's environment.
//
// # For the node
//
// Start verifies a plugin binary's sha256, starts it, negotiates the
// protocol version, checks the kind's API version and returns a Process
// whose Backend is a storage.Backend or compute.Backend. Errors keep their
// sentinels (errors.Is) and typed errors (errors.As) across the process
// boundary; failures of the process itself wrap plugin.ErrUnavailable and
// name the plugin. Closing the Backend closes the remote backend and stops
// the process. The process is also killed if the node dies: by the kernel
// on Linux (parent-death signal), and by the plugin itself elsewhere when
// it notices it has been orphaned.
//
// Streams travel in chunks of ChunkSize bytes, so memory stays bounded
// whatever the object size.
package rpcplugin
